// scan_blocks: exclusive prefix sum of data[0, n) within blocks of WG elements (one workgroup
// per block, Hillis-Steele in workgroup memory); sums[block] receives each block's total.
// BLOCK (= WG) is prepended by the host, since workgroup arrays need a constant size.

@group(0) @binding(0) var<storage, read_write> data: array<u32>;
@group(0) @binding(1) var<storage, read_write> sums: array<u32>;

var<workgroup> tmp: array<u32, BLOCK>;

@compute @workgroup_size(WG)
fn main(inv: Thread) {
  let block = workgroup_index(inv);
  let i = block * WG + inv.lid.x;
  var v = 0u;
  if (i < p.n) {
    v = data[i];
  }
  tmp[inv.lid.x] = v;
  workgroupBarrier();
  for (var off = 1u; off < WG; off = off << 1u) {
    var add = 0u;
    if (inv.lid.x >= off) {
      add = tmp[inv.lid.x - off];
    }
    workgroupBarrier();
    tmp[inv.lid.x] = tmp[inv.lid.x] + add;
    workgroupBarrier();
  }
  if (i < p.n) {
    data[i] = tmp[inv.lid.x] - v;
  }
  if (inv.lid.x == WG - 1u && block * WG < p.n) {
    sums[block] = tmp[inv.lid.x];
  }
}

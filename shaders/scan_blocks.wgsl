// scan_blocks: exclusive prefix sum of data[0, n) within blocks of WG elements (one workgroup
// per block, Hillis-Steele in workgroup memory); sums[block] receives each block's total.
// BLOCK (= WG) is prepended by the host, since workgroup arrays need a constant size.

struct Params {
  n: u32,
}

@group(0) @binding(0) var<storage, read_write> data: array<u32>;
@group(0) @binding(1) var<storage, read_write> sums: array<u32>;
@group(0) @binding(2) var<uniform> p: Params;

override WG: u32 = 256u;
var<workgroup> tmp: array<u32, BLOCK>;

@compute @workgroup_size(WG)
fn main(
  @builtin(workgroup_id) wid: vec3u,
  @builtin(num_workgroups) nwg: vec3u,
  @builtin(local_invocation_id) lid: vec3u,
) {
  let block = wid.y * nwg.x + wid.x;
  let i = block * WG + lid.x;
  var v = 0u;
  if (i < p.n) {
    v = data[i];
  }
  tmp[lid.x] = v;
  workgroupBarrier();
  for (var off = 1u; off < WG; off = off << 1u) {
    var add = 0u;
    if (lid.x >= off) {
      add = tmp[lid.x - off];
    }
    workgroupBarrier();
    tmp[lid.x] = tmp[lid.x] + add;
    workgroupBarrier();
  }
  if (i < p.n) {
    data[i] = tmp[lid.x] - v;
  }
  if (lid.x == WG - 1u && block * WG < p.n) {
    sums[block] = tmp[lid.x];
  }
}

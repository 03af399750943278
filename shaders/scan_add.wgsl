// scan_add: adds the scanned block totals back: data[i] += sums[i / BLOCK] for i < n, completing
// a multi-block exclusive prefix sum (BLOCK, the scan_blocks block size, is prepended by the host).

@group(0) @binding(0) var<storage, read_write> data: array<u32>;
@group(0) @binding(1) var<storage, read> sums: array<u32>;

@compute @workgroup_size(WG)
fn main(inv: Thread) {
  let i = thread_index(inv);
  if (i >= p.n) {
    return;
  }
  data[i] = data[i] + sums[i / BLOCK];
}

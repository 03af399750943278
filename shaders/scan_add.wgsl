// scan_add: adds the scanned block totals back: data[i] += sums[i / BLOCK] for i < n, completing
// a multi-block exclusive prefix sum (BLOCK, the scan_blocks block size, is prepended by the host).

struct Params {
  n: u32,
}

@group(0) @binding(0) var<storage, read_write> data: array<u32>;
@group(0) @binding(1) var<storage, read> sums: array<u32>;
@group(0) @binding(2) var<uniform> p: Params;

override WG: u32 = 256u;

@compute @workgroup_size(WG)
fn main(
  @builtin(workgroup_id) wid: vec3u,
  @builtin(num_workgroups) nwg: vec3u,
  @builtin(local_invocation_id) lid: vec3u,
) {
  let i = (wid.y * nwg.x + wid.x) * WG + lid.x;
  if (i >= p.n) {
    return;
  }
  data[i] = data[i] + sums[i / BLOCK];
}

// mark_offsets: out[j] = prefix[input[marks_base + j]] — the output token offset at each marked
// piece index (segment starts), so segments can be cut out of the compacted tokens.

struct Params {
  n_marks: u32,
  marks_base: u32,
}

@group(0) @binding(0) var<storage, read> input: array<u32>;
@group(0) @binding(1) var<storage, read> prefix: array<u32>;
@group(0) @binding(2) var<storage, read_write> out: array<u32>;
@group(0) @binding(3) var<uniform> p: Params;

override WG: u32 = 64u;

@compute @workgroup_size(WG)
fn main(
  @builtin(workgroup_id) wid: vec3u,
  @builtin(num_workgroups) nwg: vec3u,
  @builtin(local_invocation_id) lid: vec3u,
) {
  let j = (wid.y * nwg.x + wid.x) * WG + lid.x;
  if (j >= p.n_marks) {
    return;
  }
  out[j] = prefix[input[p.marks_base + j]];
}

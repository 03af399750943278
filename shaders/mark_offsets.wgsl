// mark_offsets: out[j] = prefix[input[marks_base + j]] — the output token offset at each marked
// piece index (segment starts), so segments can be cut out of the compacted tokens.

@group(0) @binding(0) var<storage, read> input: array<u32>;
@group(0) @binding(1) var<storage, read> prefix: array<u32>;
@group(0) @binding(2) var<storage, read_write> out: array<u32>;

@compute @workgroup_size(WG)
fn main(inv: Thread) {
  let j = thread_index(inv);
  if (j >= p.n_marks) {
    return;
  }
  out[j] = prefix[input[p.marks_base + j]];
}

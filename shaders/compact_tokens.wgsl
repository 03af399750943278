// compact_tokens: moves each piece's tokens from its slots (at the piece's first byte) to its
// place in the output, given the exclusive prefix sum of the per-piece counts, so the tokens of
// consecutive pieces (hence of each segment) are contiguous. One thread per piece.

@group(0) @binding(0) var<storage, read> input: array<u32>;
@group(0) @binding(1) var<storage, read> prefix: array<u32>;
@group(0) @binding(2) var<storage, read> slots: array<u32>;
@group(0) @binding(3) var<storage, read_write> out: array<u32>;

@compute @workgroup_size(WG)
fn main(inv: Thread) {
  let i = thread_index(inv);
  if (i >= p.n_pieces) {
    return;
  }
  var s = 0u;
  if (i > 0u) {
    s = input[p.ends_base + i - 1u];
  }
  let at = prefix[i];
  let count = prefix[i + 1u] - at;
  for (var k = 0u; k < count; k++) {
    out[at + k] = slots[s + k];
  }
}

// token_lengths: for a batch of token streams, the byte length of every token (lens[n] = 0, so
// the exclusive scan of lens gives each token's byte offset and the total), and the position of
// every token id >= first_special (special tokens and invalid ids), appended unordered with an
// atomic counter for the host to sort. One thread per token.
//
// vocab    (read): ordinary token byte offsets at off_base (ids below vocab_size).
// specials (read): special literal byte offsets at spec_off_base (ids first_special + k, k < n_spec).

struct Marks {
  count: atomic<u32>,
  items: array<u32>,
}

@group(0) @binding(0) var<storage, read> tokens: array<u32>;
@group(0) @binding(1) var<storage, read> vocab: array<u32>;
@group(0) @binding(2) var<storage, read> specials: array<u32>;
@group(0) @binding(3) var<storage, read_write> lens: array<u32>;
@group(0) @binding(4) var<storage, read_write> marks: Marks;

@compute @workgroup_size(WG)
fn main(inv: Thread) {
  let i = thread_index(inv);
  if (i > p.n) {
    return;
  }
  if (i == p.n) {
    lens[i] = 0u;
    return;
  }
  let t = tokens[i];
  var len = 0u;
  if (t < p.vocab_size) {
    len = vocab[p.off_base + t + 1u] - vocab[p.off_base + t];
  } else if (t >= p.first_special && t - p.first_special < p.n_spec) {
    let k = t - p.first_special;
    len = specials[p.spec_off_base + k + 1u] - specials[p.spec_off_base + k];
  }
  lens[i] = len;
  if (t >= p.first_special || t >= p.vocab_size) {
    let at = atomicAdd(&marks.count, 1u);
    if (at < p.capacity) {
      marks.items[at] = i;
    }
  }
}

// gather_bytes: the bytes of a batch of token streams, concatenated, packed 4 per u32. One thread
// per output word: a binary search over the tokens' byte offsets (the exclusive scan of their
// lengths, prefix[n] = total) finds the token holding the word's first byte, then the four bytes
// are read walking forward. No atomics, no write conflicts.

@group(0) @binding(0) var<storage, read> tokens: array<u32>;
@group(0) @binding(1) var<storage, read> vocab: array<u32>;
@group(0) @binding(2) var<storage, read> specials: array<u32>;
@group(0) @binding(3) var<storage, read> prefix: array<u32>;
@group(0) @binding(4) var<storage, read_write> out: array<u32>;

// Byte k of token t (t is a valid id: ordinary or special).
fn token_byte(t: u32, k: u32) -> u32 {
  if (t < p.vocab_size) {
    let at = vocab[p.off_base + t] + k;
    return unpack_byte(vocab[p.bytes_base + (at >> 2u)], at);
  }
  let at = specials[p.spec_off_base + (t - p.first_special)] + k;
  return unpack_byte(specials[p.spec_bytes_base + (at >> 2u)], at);
}

@compute @workgroup_size(WG)
fn main(inv: Thread) {
  let w = thread_index(inv);
  let total = prefix[p.n];
  let first = w * 4u;
  if (first >= total) {
    return;
  }
  // Largest t with prefix[t] <= first (t < n since first < total).
  var lo = 0u;
  var hi = p.n;
  while (hi - lo > 1u) {
    let mid = (lo + hi) / 2u;
    if (prefix[mid] <= first) {
      lo = mid;
    } else {
      hi = mid;
    }
  }
  var t = lo;
  var word = 0u;
  for (var b = 0u; b < 4u; b++) {
    let pos = first + b;
    if (pos >= total) {
      break;
    }
    while (prefix[t + 1u] <= pos) {
      t++;
    }
    word = word | (token_byte(tokens[t], pos - prefix[t]) << (b * 8u));
  }
  out[w] = word;
}

// encode_pieces: byte-pair encoding of pre-tokenized pieces, one thread per piece
// (reference rule: openai/harmony src/tiktoken.rs `byte_pair_merge`).
//
// input  (read): packed text bytes (4 per u32, little-endian) from word 0; piece end offsets at
//                ends_base; per-piece preset index at meta_base (NONE = encode here); preset
//                token offsets at side_off_base and tokens at side_tok_base.
// vocab  (read): whole-token hash table (hash, rank + 1) at tt_base; token byte offsets at
//                off_base; token bytes at bytes_base (words); rank of each byte at br_base; pair
//                table (l | r << 18, r >> 14 | (merged + 1) << 4) at pt_base.
// slots  (rw):   a piece starting at byte s writes its k-th token to slots[s + k] (a piece of n
//                bytes has at most n tokens, so pieces never overlap).
// counts (rw):   tokens of piece i; counts[n_pieces] = 0 (the scan then yields the total).
//
// Pieces longer than MAX_PIECE_BYTES never come here: the host encodes them on the CPU and passes
// their tokens as presets, so one long piece cannot serialize a batch.
// MAX_PIECE_BYTES is prepended by the host (kernel `defines`).

@group(0) @binding(0) var<storage, read> input: array<u32>;
@group(0) @binding(1) var<storage, read> vocab: array<u32>;
@group(0) @binding(2) var<storage, read_write> slots: array<u32>;
@group(0) @binding(3) var<storage, read_write> counts: array<u32>;

// #include _vocab_lookup.wgsl

@compute @workgroup_size(WG)
fn main(inv: Thread) {
  let i = thread_index(inv);
  if (i > p.n_pieces) {
    return;
  }
  if (i == p.n_pieces) {
    counts[i] = 0u;
    return;
  }
  var s = 0u;
  if (i > 0u) {
    s = input[p.ends_base + i - 1u];
  }
  let e = input[p.ends_base + i];
  let preset = input[p.meta_base + i];
  if (preset != NONE) {
    let a = input[p.side_off_base + preset];
    let b = input[p.side_off_base + preset + 1u];
    for (var k = 0u; k < b - a; k++) {
      slots[s + k] = input[p.side_tok_base + a + k];
    }
    counts[i] = b - a;
    return;
  }
  let len = e - s;
  if (len == 0u || len > MAX_PIECE_BYTES) {
    counts[i] = 0u;
    return;
  }
  if (len == 1u) {
    slots[s] = vocab[p.br_base + text_byte(s)];
    counts[i] = 1u;
    return;
  }
  let whole = whole_rank(s, e);
  if (whole != NONE) {
    slots[s] = whole;
    counts[i] = 1u;
    return;
  }
  // Merge loop: lowest merged rank first, leftmost on ties; tok[] are the parts' ranks and
  // pr[k] the rank of merging parts k and k + 1 (NONE when their bytes are not a token).
  var tok: array<u32, MAX_PIECE_BYTES>;
  var pr: array<u32, MAX_PIECE_BYTES>;
  var n = len;
  for (var k = 0u; k < n; k++) {
    tok[k] = vocab[p.br_base + text_byte(s + k)];
  }
  for (var k = 0u; k + 1u < n; k++) {
    pr[k] = pair_rank(tok[k], tok[k + 1u]);
  }
  loop {
    var best = NONE;
    var at = 0u;
    for (var k = 0u; k + 1u < n; k++) {
      if (pr[k] < best) {
        best = pr[k];
        at = k;
      }
    }
    if (best == NONE) {
      break;
    }
    tok[at] = best;
    n -= 1u;
    for (var k = at + 1u; k < n; k++) {
      tok[k] = tok[k + 1u];
      pr[k] = pr[k + 1u];
    }
    if (at + 1u < n) {
      pr[at] = pair_rank(tok[at], tok[at + 1u]);
    }
    if (at > 0u) {
      pr[at - 1u] = pair_rank(tok[at - 1u], tok[at]);
    }
  }
  for (var k = 0u; k < n; k++) {
    slots[s + k] = tok[k];
  }
  counts[i] = n;
}

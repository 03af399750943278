// merge_long: exact byte-pair encoding of long pieces (over the per-thread MAX_PIECE_BYTES of
// encode_pieces), one workgroup per piece, cooperatively (as BlockBPE does): every round each
// thread finds the lowest pair rank among its strided parts, a workgroup reduction picks the
// lowest rank, leftmost on ties, and one thread merges that pair in a linked list of parts and
// re-ranks its two neighbours. This is tiktoken's rule (openai/harmony src/tiktoken.rs
// `byte_pair_merge`: lowest merged rank first, leftmost on ties), one merge per round, so the
// result is the CPU's token for token. Cost: O(n / LONG_WG + log LONG_WG) per merge.
//
// input  (read): packed text bytes (4 per u32) from word 0; (start, end) byte pairs of the pieces
//                at ends_base (pieces do not overlap).
//                Listed mode (index_base != NONE; the one-submission path, src/gpu/fused.ts):
//                ends_base holds only the pieces' end bytes, in no order, and input[count_at] how
//                many (at most n_pieces); each piece's start and index come from a binary search
//                in the batch's n_ends ascending piece ends at index_base, its count goes to
//                counts[index] (after encode_pieces gave it 0), and a piece over max_len bytes is
//                left alone, its end byte written to state[4 n_bytes + j] (else NONE there) for
//                the host to encode its text again. The grid is sized on the device
//                (long_dispatch.wgsl).
// vocab  (read): the encoder's tables (see encode_pieces.wgsl).
// state  (rw):   4 × n_bytes words: part rank at [0, n), pair rank at [n, 2n), next part at
//                [2n, 3n) and previous part at [3n, 4n), indexed by byte position (a part is
//                named by its first byte, relative to its piece).
// out    (rw):   a piece starting at byte s writes its k-th token to out[s + k].
// counts (rw):   tokens of each piece (listed mode: of each piece of the batch, by index).
// LONG_WG (= WG) is prepended by the host (kernel `defines`).

@group(0) @binding(0) var<storage, read> input: array<u32>;
@group(0) @binding(1) var<storage, read> vocab: array<u32>;
@group(0) @binding(2) var<storage, read_write> state: array<u32>;
@group(0) @binding(3) var<storage, read_write> out: array<u32>;
@group(0) @binding(4) var<storage, read_write> counts: array<u32>;

var<workgroup> red_rank: array<u32, LONG_WG>;
var<workgroup> red_pos: array<u32, LONG_WG>;
var<workgroup> shared_best: u32;
var<workgroup> shared_at: u32;

// #include _vocab_lookup.wgsl

@compute @workgroup_size(WG)
fn main(inv: Thread) {
  // Tint takes the whole `inv` as possibly non-uniform, so the piece's length reaches the
  // barriers through a workgroup-uniform load (0 for the spare workgroups of a folded grid).
  let piece = workgroup_index(inv);
  let lid = inv.lid.x;
  let listed = p.index_base != NONE;
  var count = p.n_pieces;
  if (listed) {
    count = min(input[p.count_at], p.n_pieces);
  }
  var s = 0u;
  var len = 0u;
  var slot = piece;
  if (piece < count && !listed) {
    s = input[p.ends_base + 2u * piece];
    len = input[p.ends_base + 2u * piece + 1u] - s;
  } else if (piece < count) {
    // The piece ending at e is the first of the ascending ends that is >= e.
    let e = input[p.ends_base + piece];
    var lo = 0u;
    var hi = p.n_ends;
    while (lo < hi) {
      let mid = (lo + hi) >> 1u;
      if (input[p.index_base + mid] < e) {
        lo = mid + 1u;
      } else {
        hi = mid;
      }
    }
    slot = lo;
    if (lo > 0u) {
      s = input[p.index_base + lo - 1u];
    }
    len = e - s;
    var left = NONE;
    if (len > p.max_len) {
      left = e;
      len = 0u;
    }
    if (lid == 0u) {
      state[4u * p.n_bytes + piece] = left;
    }
  }
  if (lid == 0u) {
    shared_at = len;
  }
  let n = workgroupUniformLoad(&shared_at);
  if (n == 0u) {
    return;
  }
  let TOK = s;
  let PR = p.n_bytes + s;
  let NXT = 2u * p.n_bytes + s;
  let PRV = 3u * p.n_bytes + s;
  if (lid == 0u) {
    shared_best = whole_rank(s, s + n);
  }
  let whole = workgroupUniformLoad(&shared_best);
  if (whole != NONE) {
    if (lid == 0u) {
      out[s] = whole;
      counts[slot] = 1u;
    }
    return;
  }
  for (var k = lid; k < n; k += WG) {
    state[TOK + k] = vocab[p.br_base + text_byte(s + k)];
    state[NXT + k] = k + 1u;
    state[PRV + k] = select(k - 1u, NONE, k == 0u);
  }
  storageBarrier();
  for (var k = lid; k < n; k += WG) {
    var r = NONE;
    if (k + 1u < n) {
      r = pair_rank(state[TOK + k], state[TOK + k + 1u]);
    }
    state[PR + k] = r;
  }
  storageBarrier();
  loop {
    // Each thread's lowest pair, leftmost among its parts (ascending k, strict <); dead parts and
    // the last part hold NONE.
    var best = NONE;
    var at = NONE;
    for (var k = lid; k < n; k += WG) {
      let r = state[PR + k];
      if (r < best) {
        best = r;
        at = k;
      }
    }
    red_rank[lid] = best;
    red_pos[lid] = at;
    workgroupBarrier();
    for (var step = WG / 2u; step > 0u; step = step / 2u) {
      if (lid < step) {
        let r2 = red_rank[lid + step];
        let a2 = red_pos[lid + step];
        if (r2 < red_rank[lid] || (r2 == red_rank[lid] && a2 < red_pos[lid])) {
          red_rank[lid] = r2;
          red_pos[lid] = a2;
        }
      }
      workgroupBarrier();
    }
    if (lid == 0u) {
      shared_best = red_rank[0];
      shared_at = red_pos[0];
    }
    let merged = workgroupUniformLoad(&shared_best);
    if (merged == NONE) {
      break;
    }
    if (lid == 0u) {
      let a = shared_at;
      let q = state[NXT + a];
      let q2 = state[NXT + q];
      state[TOK + a] = merged;
      state[NXT + a] = q2;
      state[PR + q] = NONE;
      var r = NONE;
      if (q2 < n) {
        state[PRV + q2] = a;
        r = pair_rank(merged, state[TOK + q2]);
      }
      state[PR + a] = r;
      let b = state[PRV + a];
      if (b != NONE) {
        state[PR + b] = pair_rank(state[TOK + b], merged);
      }
    }
    storageBarrier();
  }
  if (lid == 0u) {
    var k = 0u;
    var c = 0u;
    while (k < n) {
      out[s + c] = state[TOK + k];
      c++;
      k = state[NXT + k];
    }
    counts[slot] = c;
  }
}

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
// vocab  (read): the encoder's tables (see encode_pieces.wgsl).
// state  (rw):   4 × n_bytes words: part rank at [0, n), pair rank at [n, 2n), next part at
//                [2n, 3n) and previous part at [3n, 4n), indexed by byte position (a part is
//                named by its first byte, relative to its piece).
// out    (rw):   a piece starting at byte s writes its k-th token to out[s + k].
// counts (rw):   tokens of each piece.
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

fn text_byte(i: u32) -> u32 {
  return unpack_byte(input[i >> 2u], i);
}

fn vocab_byte(i: u32) -> u32 {
  return unpack_byte(vocab[p.bytes_base + (i >> 2u)], i);
}

// Rank of the token text[s, e) or NONE (the lookup of encode_pieces.wgsl).
fn whole_rank(s: u32, e: u32) -> u32 {
  var h = FNV_BASIS;
  for (var i = s; i < e; i++) {
    h = fnv1a(h, text_byte(i));
  }
  let len = e - s;
  var slot = h & p.tt_mask;
  for (var probe = 0u; probe <= p.tt_mask; probe++) {
    let r1 = vocab[p.tt_base + 2u * slot + 1u];
    if (r1 == 0u) {
      return NONE;
    }
    if (vocab[p.tt_base + 2u * slot] == h) {
      let r = r1 - 1u;
      let vs = vocab[p.off_base + r];
      if (vocab[p.off_base + r + 1u] - vs == len) {
        var k = 0u;
        while (k < len && vocab_byte(vs + k) == text_byte(s + k)) {
          k++;
        }
        if (k == len) {
          return r;
        }
      }
    }
    slot = (slot + 1u) & p.tt_mask;
  }
  return NONE;
}

fn pair_hash(l: u32, r: u32) -> u32 {
  var h = (l * 0x9e3779b1u) ^ ((r + 0x7f4a7c15u) * 0x85ebca77u);
  h = h ^ (h >> 16u);
  h = h * 0x7feb352du;
  h = h ^ (h >> 15u);
  return h;
}

// Rank of the token whose bytes are token l's then token r's, or NONE (as encode_pieces.wgsl).
fn pair_rank(l: u32, r: u32) -> u32 {
  let key0 = l | (r << 18u);
  let key1 = r >> 14u;
  var slot = pair_hash(l, r) & p.pt_mask;
  for (var probe = 0u; probe <= p.pt_mask; probe++) {
    let w1 = vocab[p.pt_base + 2u * slot + 1u];
    if (w1 == 0u) {
      return NONE;
    }
    if (vocab[p.pt_base + 2u * slot] == key0 && (w1 & 0xfu) == key1) {
      return (w1 >> 4u) - 1u;
    }
    slot = (slot + 1u) & p.pt_mask;
  }
  return NONE;
}

@compute @workgroup_size(WG)
fn main(inv: Thread) {
  // Tint takes the whole `inv` as possibly non-uniform, so the piece's length reaches the
  // barriers through a workgroup-uniform load (0 for the spare workgroups of a folded grid).
  let piece = workgroup_index(inv);
  let lid = inv.lid.x;
  var s = 0u;
  var len = 0u;
  if (piece < p.n_pieces) {
    s = input[p.ends_base + 2u * piece];
    len = input[p.ends_base + 2u * piece + 1u] - s;
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
      counts[piece] = 1u;
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
    counts[piece] = c;
  }
}

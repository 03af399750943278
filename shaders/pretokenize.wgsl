// pretokenize: the o200k pre-tokenizer (src/tokenizer/pieces.ts, `pieceEnd`, ported line for line)
// over one window of packed text, parallel over split points (src/gpu/pretokenize.ts states the
// rule and its proof). One pipeline, three phases (the `phase` uniform), one thread per byte:
//   0: flags[i] = 1 where a chunk starts (a segment start, or a split point inside a segment that
//      is pre-tokenized), flags[n] = 1; marks[i] = 0 for i <= n.
//   1: the thread at each chunk start scans pieces up to the next chunk start (reading ahead up to
//      its segment's scan end) and sets marks[e - 1] = 1 for every piece end e; a preset segment
//      is one piece. A piece that crosses a chunk start (a broken rule) counts in out.errors.
//   (the host records an exclusive prefix sum of marks[0, n + 1): marks[n] = pieces)
//   2: compaction: where the prefix steps at byte i, out.items[k] = i + 1 (the piece end) and
//      out.items[cap + k] = the segment's preset. With fill_tail = 1 (cap = n_bytes: the
//      one-submission path, src/gpu/fused.ts), thread i >= pieces also writes the empty piece
//      out.items[i] = n_bytes, out.items[cap + i] = NONE, so encode_pieces can take all cap
//      slots as pieces without the host knowing the count.
//   Phase 1 also lists the pre-tokenized pieces longer than long_min bytes: out.long counts
//   them and out.items[2 * cap + j] (j < long_cap) holds their end bytes, in no order (pieces
//   are disjoint, so there are at most n_bytes / (long_min + 1) of them: the host sizes
//   long_cap so), sparing the host a look at every piece to find them.
//
// input (read): text bytes (4 per word) from word 0; segment starts (n_seg + 1 words) at
//               seg_base; scan ends (n_seg) at scan_base; presets (n_seg) at preset_base.
// classes (read): the two-level class table (src/gpu/tables.ts, `buildClassTables`); the class
//                 bits (UPPER … CRLF) are defined by the host from `CLASS_BITS`.

struct Out {
  errors: atomic<u32>,
  long: atomic<u32>,
  items: array<u32>,
}

@group(0) @binding(0) var<storage, read> input: array<u32>;
@group(0) @binding(1) var<storage, read> classes: array<u32>;
@group(0) @binding(2) var<storage, read_write> flags: array<u32>;
@group(0) @binding(3) var<storage, read_write> marks: array<u32>;
@group(0) @binding(4) var<storage, read_write> out: Out;

const UL: u32 = UPPER | LOWER;

fn byte_at(i: u32) -> u32 {
  return unpack_byte(input[i >> 2u], i);
}

fn width(c: u32) -> u32 {
  if (c < 0x80u) {
    return 1u;
  }
  if (c < 0xe0u) {
    return 2u;
  }
  if (c < 0xf0u) {
    return 3u;
  }
  return 4u;
}

fn class_of(cp: u32) -> u32 {
  let c = min(cp, 0x10ffffu);
  let at = (classes[c >> 8u] << 8u) | (c & 255u);
  return unpack_byte(classes[p.blocks_base + (at >> 2u)], at);
}

// The code point whose UTF-8 encoding starts at byte i.
fn code_point(i: u32) -> u32 {
  let c = byte_at(i);
  if (c < 0x80u) {
    return c;
  }
  if (c < 0xe0u) {
    return ((c & 0x1fu) << 6u) | (byte_at(i + 1u) & 0x3fu);
  }
  if (c < 0xf0u) {
    return ((c & 0x0fu) << 12u) | ((byte_at(i + 1u) & 0x3fu) << 6u) | (byte_at(i + 2u) & 0x3fu);
  }
  return ((c & 0x07u) << 18u) | ((byte_at(i + 1u) & 0x3fu) << 12u) |
    ((byte_at(i + 2u) & 0x3fu) << 6u) | (byte_at(i + 3u) & 0x3fu);
}

// Class bits of the code point whose UTF-8 encoding starts at byte i. One table lookup after
// the decode: cls is inlined at each of its call sites, and one lookup there instead of one per
// UTF-8 length keeps the compiled pipeline small (a shorter cold compile on llvmpipe/lavapipe).
fn cls(i: u32) -> u32 {
  return class_of(code_point(i));
}

// `joins` of src/gpu/pretokenize.ts: whether some match of the pattern can hold code point a
// (class ca, first byte a) directly followed by code point b (class cb, first byte b).
fn joins(ca: u32, a: u32, cb: u32, b: u32) -> bool {
  let a_q = (ca & (SPACE | LETTER | NUMBER)) == 0u;
  let b_q = (cb & (SPACE | LETTER | NUMBER)) == 0u;
  if ((cb & UL) != 0u && ((ca & (CRLF | LETTER | NUMBER)) == 0u || (ca & UL) != 0u)) {
    return true;
  }
  if ((ca & UL) != 0u && b == 0x27u) {
    return true;
  }
  if ((ca & cb & NUMBER) != 0u || (ca & cb & SPACE) != 0u) {
    return true;
  }
  if (b_q && (a_q || a == 0x20u)) {
    return true;
  }
  if ((cb & CRLF) != 0u && (a_q || (ca & CRLF) != 0u)) {
    return true;
  }
  return b == 0x2fu && (ca & CRLF) != 0u;
}

fn contraction(i: u32, end: u32) -> u32 {
  if (i + 1u >= end || byte_at(i) != 0x27u) {
    return i;
  }
  let c = byte_at(i + 1u) | 0x20u;
  if (c == 0x73u || c == 0x74u || c == 0x6du || c == 0x64u) {
    return i + 2u;
  }
  if (i + 2u >= end) {
    return i;
  }
  let d = byte_at(i + 2u);
  if (c == 0x72u || c == 0x76u) {
    return select(i, i + 3u, (d | 0x20u) == 0x65u);
  }
  if (c == 0x6cu) {
    return select(i, i + 3u, (d | 0x20u) == 0x6cu);
  }
  if (byte_at(i + 1u) == 0xc5u && d == 0xbfu) {
    return i + 3u;
  }
  return i;
}

fn alt1(q: u32, end: u32) -> u32 {
  var i = q;
  var last_lower = NONE;
  var c = 0u;
  while (i < end) {
    c = cls(i);
    if ((c & UPPER) == 0u) {
      break;
    }
    i += width(byte_at(i));
    if ((c & LOWER) != 0u) {
      last_lower = i;
    }
  }
  if (i < end && (c & LOWER) != 0u) {
    i += width(byte_at(i));
    while (i < end && (cls(i) & LOWER) != 0u) {
      i += width(byte_at(i));
    }
    return contraction(i, end);
  }
  if (last_lower == NONE) {
    return NONE;
  }
  return contraction(last_lower, end);
}

fn alt2(q: u32, end: u32) -> u32 {
  if (q >= end || (cls(q) & UPPER) == 0u) {
    return NONE;
  }
  var i = q + width(byte_at(q));
  while (i < end && (cls(i) & UPPER) != 0u) {
    i += width(byte_at(i));
  }
  while (i < end && (cls(i) & LOWER) != 0u) {
    i += width(byte_at(i));
  }
  return contraction(i, end);
}

fn piece_end(p0: u32, end: u32) -> u32 {
  let b0 = byte_at(p0);
  let c0 = cls(p0);
  let q = p0 + width(b0);
  let prefix = (c0 & (LETTER | NUMBER | CRLF)) == 0u && q < end;
  if (prefix || (c0 & UL) != 0u) {
    if (prefix) {
      let r = alt1(q, end);
      if (r != NONE) {
        return r;
      }
    }
    if ((c0 & UL) != 0u) {
      let r = alt1(p0, end);
      if (r != NONE) {
        return r;
      }
    }
    if (prefix) {
      let r = alt2(q, end);
      if (r != NONE) {
        return r;
      }
    }
    if ((c0 & UPPER) != 0u) {
      return alt2(p0, end);
    }
  }
  if ((c0 & NUMBER) != 0u) {
    var i = q;
    if (i < end && (cls(i) & NUMBER) != 0u) {
      i += width(byte_at(i));
      if (i < end && (cls(i) & NUMBER) != 0u) {
        i += width(byte_at(i));
      }
    }
    return i;
  }
  let s = select(p0, q, b0 == 0x20u);
  if (s < end && (cls(s) & (SPACE | LETTER | NUMBER)) == 0u) {
    var i = s + width(byte_at(s));
    while (i < end && (cls(i) & (SPACE | LETTER | NUMBER)) == 0u) {
      i += width(byte_at(i));
    }
    while (i < end) {
      let x = byte_at(i);
      if (x != 0x0du && x != 0x0au && x != 0x2fu) {
        break;
      }
      i++;
    }
    return i;
  }
  var i = p0;
  var last_newline = NONE;
  var last_start = p0;
  while (i < end && (cls(i) & SPACE) != 0u) {
    last_start = i;
    let x = byte_at(i);
    i += width(x);
    if (x == 0x0du || x == 0x0au) {
      last_newline = i;
    }
  }
  if (last_newline != NONE) {
    return last_newline;
  }
  if (i >= end) {
    return i;
  }
  if (last_start > p0) {
    return last_start;
  }
  return select(q, i, i > p0);
}

// The segment holding byte i: the largest k < n_seg with starts[k] <= i (starts[0] = 0).
fn segment_of(i: u32) -> u32 {
  var lo = 0u;
  var hi = p.n_seg;
  while (lo < hi) {
    let mid = (lo + hi) >> 1u;
    if (input[p.seg_base + mid] <= i) {
      lo = mid + 1u;
    } else {
      hi = mid;
    }
  }
  return lo - 1u;
}

fn mark(i: u32) {
  marks[i] = 0u;
  if (i == p.n_bytes) {
    flags[i] = 1u;
    return;
  }
  var f = 0u;
  let b = byte_at(i);
  if ((b & 0xc0u) != 0x80u) {
    let k = segment_of(i);
    let s = input[p.seg_base + k];
    if (s == i) {
      f = 1u;
    } else if (input[p.preset_base + k] == NONE) {
      var j = i - 1u;
      while (j > s && (byte_at(j) & 0xc0u) == 0x80u) {
        j--;
      }
      if (!joins(cls(j), byte_at(j), cls(i), b)) {
        f = 1u;
      }
    }
  }
  flags[i] = f;
}

fn scan(i: u32) {
  if (flags[i] == 0u) {
    return;
  }
  let k = segment_of(i);
  let seg_end = input[p.seg_base + k + 1u];
  if (input[p.preset_base + k] != NONE) {
    marks[seg_end - 1u] = 1u;
    return;
  }
  let end = input[p.scan_base + k];
  var at = i;
  loop {
    var e = min(piece_end(at, end), end);
    if (e > seg_end) {
      atomicAdd(&out.errors, 1u);
      e = seg_end;
    }
    for (var q = at + 1u; q < e; q++) {
      if (flags[q] != 0u) {
        atomicAdd(&out.errors, 1u);
      }
    }
    marks[e - 1u] = 1u;
    if (e - at > p.long_min) {
      let j = atomicAdd(&out.long, 1u);
      if (j < p.long_cap) {
        out.items[2u * p.cap + j] = e;
      }
    }
    at = e;
    if (at >= seg_end || flags[at] != 0u) {
      break;
    }
  }
}

fn compact(i: u32) {
  if (p.fill_tail != 0u && i >= marks[p.n_bytes]) {
    out.items[i] = p.n_bytes;
    out.items[p.cap + i] = NONE;
  }
  let k = marks[i];
  if (marks[i + 1u] == k) {
    return;
  }
  out.items[k] = i + 1u;
  out.items[p.cap + k] = input[p.preset_base + segment_of(i)];
}

@compute @workgroup_size(WG)
fn main(inv: Thread) {
  let i = thread_index(inv);
  if (p.phase == 0u) {
    if (i <= p.n_bytes) {
      mark(i);
    }
    return;
  }
  if (i >= p.n_bytes) {
    return;
  }
  if (p.phase == 1u) {
    scan(i);
  } else {
    compact(i);
  }
}

// literal_segments: the segments of the one-submission path (src/gpu/fused.ts) with the allowed
// special literals cut out on the device, in the pre-tokenize input's layout, so pretokenize.wgsl
// runs on them unchanged and gives each literal one piece whose preset is its special index (the
// encode input's side table maps it to the token). The rule is the host's `planSegments`
// (src/gpu/encode_plan.ts): a literal is cut out when allowed and inside one text; the literals
// never overlap (the host uses this path only for `delimited` tables: src/gpu/tables.ts).
// Phases (the `phase` uniform):
//   0: one thread per host segment (each non-empty text) and per match slot: bounds[i] = 1 at
//      each host segment's start and at the start and end of each literal cut out, and
//      lit[pos] = index + 1 at its start.
//   (the host records an exclusive prefix sum of bounds[0, n + 1): bounds[n] = segments)
//   1: one thread per byte: where bounds steps at byte i, segment k = bounds[i] starts there:
//      starts[k] = i, presets[k] = lit[i] - 1 (NONE for text), and segment k - 1's scan end is i.
//   2: one thread per segment slot k <= cap: the last segment's scan end is n; the slots past the
//      count become empty segments at n (pretokenize takes n_seg = cap and never looks in them).
//
// matches (read): find_special's output: count at word 0, (position, index) pairs from word 1.
// input   (read): host segment starts (n_host + 1 words) at host_base; per special index, its
//                 length in bytes when allowed, else 0, at len_base.
// bounds  (rw):   n + 1 words at 0, then lit (n words) at n + 1; zeroed by the host.
// out     (rw):   segment starts (cap + 1 words) at seg_base, scan ends (cap) at scan_base,
//                 presets (cap) at preset_base.

@group(0) @binding(0) var<storage, read> matches: array<u32>;
@group(0) @binding(1) var<storage, read> input: array<u32>;
@group(0) @binding(2) var<storage, read_write> bounds: array<u32>;
@group(0) @binding(3) var<storage, read_write> out: array<u32>;

// The host segment holding byte i: the largest k < n_host with starts[k] <= i.
fn host_segment(i: u32) -> u32 {
  var lo = 0u;
  var hi = p.n_host;
  while (lo < hi) {
    let mid = (lo + hi) >> 1u;
    if (input[p.host_base + mid] <= i) {
      lo = mid + 1u;
    } else {
      hi = mid;
    }
  }
  return max(lo, 1u) - 1u;
}

fn mark(t: u32) {
  if (t < p.n_host) {
    bounds[input[p.host_base + t]] = 1u;
    return;
  }
  let j = t - p.n_host;
  if (j >= min(matches[0], p.match_cap)) {
    return;
  }
  let pos = matches[1u + 2u * j];
  let idx = matches[2u + 2u * j];
  let len = input[p.len_base + idx];
  if (len == 0u) {
    return;
  }
  let k = host_segment(pos);
  if (pos < input[p.host_base + k] || pos + len > input[p.host_base + k + 1u]) {
    return;
  }
  bounds[pos] = 1u;
  bounds[p.n_bytes + 1u + pos] = idx + 1u;
  if (pos + len < p.n_bytes) {
    bounds[pos + len] = 1u;
  }
}

fn scatter(i: u32) {
  let k = bounds[i];
  if (bounds[i + 1u] == k) {
    return;
  }
  out[p.seg_base + k] = i;
  out[p.preset_base + k] = bounds[p.n_bytes + 1u + i] - 1u; // 0 - 1 = NONE for text
  if (k > 0u) {
    out[p.scan_base + k - 1u] = i;
  }
}

fn pad(k: u32) {
  let count = bounds[p.n_bytes];
  if (k + 1u == count) {
    out[p.scan_base + k] = p.n_bytes;
  }
  if (k < count) {
    return;
  }
  out[p.seg_base + k] = p.n_bytes;
  if (k < p.cap) {
    out[p.scan_base + k] = p.n_bytes;
    out[p.preset_base + k] = NONE;
  }
}

@compute @workgroup_size(WG)
fn main(inv: Thread) {
  let i = thread_index(inv);
  if (p.phase == 0u) {
    mark(i);
  } else if (p.phase == 1u) {
    if (i < p.n_bytes) {
      scatter(i);
    }
  } else if (i <= p.cap) {
    pad(i);
  }
}

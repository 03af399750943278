// find_special: finds every special-token literal in packed text, one thread per byte position.
// Special literals all have the form <|...|> with no |> inside (the host checks this), so a
// literal starting at i can only end at the first |> after i + 2: hash that candidate and look
// it up. Matches are appended (unordered) as (byte position, special index) pairs with an atomic
// counter; the host sorts them and resolves overlaps leftmost-first (tiktoken's rule).
//
// specials (read): hash table (hash, index + 1) at 0; literal byte offsets at off_base; literal
//                  bytes (words) at bytes_base.

struct Matches {
  count: atomic<u32>,
  items: array<u32>,
}

@group(0) @binding(0) var<storage, read> text: array<u32>;
@group(0) @binding(1) var<storage, read> specials: array<u32>;
@group(0) @binding(2) var<storage, read_write> matches: Matches;

fn text_byte(i: u32) -> u32 {
  return unpack_byte(text[i >> 2u], i);
}

fn special_byte(i: u32) -> u32 {
  return unpack_byte(specials[p.bytes_base + (i >> 2u)], i);
}

@compute @workgroup_size(WG)
fn main(inv: Thread) {
  let i = thread_index(inv);
  if (i + 1u >= p.n_bytes) {
    return;
  }
  if (text_byte(i) != 0x3cu || text_byte(i + 1u) != 0x7cu) {
    return;
  }
  var end = 0u;
  for (var q = i + 2u; q + 1u < p.n_bytes && q + 2u - i <= p.max_len; q++) {
    if (text_byte(q) == 0x7cu && text_byte(q + 1u) == 0x3eu) {
      end = q + 2u;
      break;
    }
  }
  if (end == 0u) {
    return;
  }
  var h = FNV_BASIS;
  for (var k = i; k < end; k++) {
    h = fnv1a(h, text_byte(k));
  }
  let len = end - i;
  var slot = h & p.st_mask;
  for (var probe = 0u; probe <= p.st_mask; probe++) {
    let s1 = specials[2u * slot + 1u];
    if (s1 == 0u) {
      return;
    }
    if (specials[2u * slot] == h) {
      let idx = s1 - 1u;
      let ls = specials[p.off_base + idx];
      if (specials[p.off_base + idx + 1u] - ls == len) {
        var k = 0u;
        while (k < len && special_byte(ls + k) == text_byte(i + k)) {
          k++;
        }
        if (k == len) {
          let at = atomicAdd(&matches.count, 1u);
          if (at < p.capacity) {
            matches.items[2u * at] = i;
            matches.items[2u * at + 1u] = idx;
          }
          return;
        }
      }
    }
    slot = (slot + 1u) & p.st_mask;
  }
}

// Vocabulary lookups shared by encode_pieces and merge_long (included with `// #include`): they
// read the kernel's `input` (packed text) and `vocab` (the encoder's tables) bindings and `p`.

fn text_byte(i: u32) -> u32 {
  return unpack_byte(input[i >> 2u], i);
}

fn vocab_byte(i: u32) -> u32 {
  return unpack_byte(vocab[p.bytes_base + (i >> 2u)], i);
}

// Rank of the token text[s, e) or NONE (FNV-1a hash, linear probing).
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

// Rank of the token whose bytes are token l's then token r's, or NONE.
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


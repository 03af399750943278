// prelude: prepended to every kernel by src/gpu/_generate_shaders.ts (files starting with `_` are
// not kernels). Each kernel's `struct Params` and its `p` binding are generated from the kernel
// descriptor's uniform field names (src/gpu/kernels.ts), and `defines` become `const`s, at
// pipeline creation (src/gpu/pipeline_cache.ts, `kernelSource`).

// Threads per workgroup; set by the pipeline from the kernel descriptor (`workgroupSize`).
override WG: u32;

// Marks an absent entry (the host's `NONE`, src/gpu/tables.ts).
const NONE: u32 = 0xffffffffu;

// FNV-1a, 32 bits (the host's `hashBytes`, src/tokenizer/vocabulary.ts).
const FNV_BASIS: u32 = 0x811c9dc5u;
const FNV_PRIME: u32 = 0x01000193u;

fn fnv1a(h: u32, byte: u32) -> u32 {
  return (h ^ byte) * FNV_PRIME;
}

// Byte i of a byte string packed 4 per u32, little-endian, given the word holding it.
fn unpack_byte(word: u32, i: u32) -> u32 {
  return (word >> ((i & 3u) * 8u)) & 0xffu;
}

// The entry point's built-ins: every kernel's `main` takes one `Thread`.
struct Thread {
  @builtin(workgroup_id) wid: vec3u,
  @builtin(num_workgroups) nwg: vec3u,
  @builtin(local_invocation_id) lid: vec3u,
}

// Linear index of the workgroup in a grid folded into two dimensions (see `dispatchSize`).
fn workgroup_index(t: Thread) -> u32 {
  return t.wid.y * t.nwg.x + t.wid.x;
}

// Linear index of the thread; kernels guard it against their thread count.
fn thread_index(t: Thread) -> u32 {
  return workgroup_index(t) * WG + t.lid.x;
}


// long_dispatch: the grid of merge_long's listed mode, sized on the device from the number of
// long pieces the pre-tokenizer listed (input[count_at], at most cap), so the one-submission path
// (src/gpu/fused.ts) launches one workgroup per long piece without a read-back. One thread.
// The grid is folded as the host's `dispatchSize` folds it: x = min(n, max_x), y = ceil(n / x);
// no long piece gives (0, 1, 1), an empty dispatch.
//
// input (read): the word at count_at.
// args  (rw):   the indirect dispatch arguments (x, y, z).

@group(0) @binding(0) var<storage, read> input: array<u32>;
@group(0) @binding(1) var<storage, read_write> args: array<u32>;

@compute @workgroup_size(WG)
fn main(inv: Thread) {
  if (thread_index(inv) != 0u) {
    return;
  }
  let n = min(input[p.count_at], p.cap);
  let x = min(n, p.max_x);
  args[0] = x;
  args[1] = select(1u, (n + x - 1u) / max(x, 1u), x > 0u);
  args[2] = 1u;
}

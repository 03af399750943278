#!/usr/bin/env bash
# One-command device check for a machine with a real GPU (npm run bench:gpu). In under 5 minutes:
#   1. diagnoses WebGPU in Deno and Bun (adapter, limits, timestamp queries; what is missing —
#      Deno's WebGPU and Dawn need a Vulkan driver: on NVIDIA the driver's Vulkan ICD,
#      nvidia_icd.json),
#   2. runs the GPU conformance suite (GPU output identical to the CPU's),
#   3. measures encode at 10k / 100k / 1M texts per batch on CPU and GPU, and render-dataset and
#      parse-dataset on CPU (1 worker and all cores) and GPU, printing the ratios, and writes
#      gpu-device.json and gpu-device.html (the report with the charts),
#   4. prints GPU wall, host and kernel time per MB against batch size (bench/gpu_batch_shape.ts),
#   5. prints the GPU path's host ms/MB per text kind against the CPU's (bench/gpu_host.ts, with
#      the real backend's host time on this adapter, long pieces on the GPU),
#   6. prints submissions, read-backs and wall ms per batch per text kind (bench/gpu_round_trips.ts:
#      what the fused one-submission path saves on this adapter).
# QUICK=1 uses 100 / 1k / 10k texts (a smoke run, e.g. on a software adapter).
set -uo pipefail
cd "$(dirname "$0")/.."
export PATH="$PWD/node_modules/.bin:$PATH"
OUT=${OUT:-gpu-device}
start=$(date +%s)
say() { printf '\n== %s\n' "$*"; }

say "hardware"
(command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader) || true
(command -v lspci >/dev/null && lspci | grep -Ei 'vga|3d|display') || echo "lspci not available"
icds=$(ls /usr/share/vulkan/icd.d/*.json /etc/vulkan/icd.d/*.json 2>/dev/null || true)
if [ -z "$icds" ]; then
  echo "no Vulkan ICD found in /usr/share/vulkan/icd.d or /etc/vulkan/icd.d:"
  echo "  NVIDIA: install the driver's Vulkan part (nvidia_icd.json; e.g. the libnvidia-gl package)"
  echo "  AMD/Intel: apt-get install mesa-vulkan-drivers"
else
  echo "Vulkan ICDs:"; echo "$icds" | sed 's/^/  /'
  echo "$icds" | grep -q nvidia_icd || ! (command -v nvidia-smi >/dev/null) ||
    echo "  an NVIDIA GPU is present but nvidia_icd.json is missing: WebGPU will not see it"
fi

say "WebGPU in Deno"
deno run -A scripts/gpu_diagnose.ts; deno_ok=$?
say "WebGPU in Bun"
bun scripts/gpu_diagnose.ts; bun_ok=$?
if [ $deno_ok != 0 ] && [ $bun_ok != 0 ]; then
  echo "no WebGPU adapter in either runtime: fix the driver (above) and run again"
  exit 1
fi
runner=bun; [ $bun_ok != 0 ] && runner=deno
run_cli() { if [ $runner = bun ]; then bun src/cli.ts "$@"; else deno run -A src/cli.ts "$@"; fi; }

say "GPU conformance suite ($runner)"
if [ $runner = bun ]; then
  HARMONY_REQUIRE_GPU=1 bun test test/gpu 2>&1 | tail -n 4
else
  HARMONY_REQUIRE_GPU=1 deno test -A --no-prompt test/gpu 2>&1 | tail -n 4
fi

if [ "${QUICK:-0}" = 1 ]; then sizes=100,1000,10000; records=3000; else sizes=10000,100000,1000000; records=260000; fi
input=$(mktemp --suffix=.jsonl)
trap 'rm -f "$input"' EXIT
bun scripts/make_bench_input.ts "$records" "$input" 2>/dev/null || deno run -A scripts/make_bench_input.ts "$records" "$input"
cores=$(nproc)
workers=1; [ "$cores" -gt 1 ] && workers="1,$cores"

say "encode at $sizes texts per batch, CPU and GPU ($runner)"
run_cli bench "$input" --limit "$records" --tasks encode --backend both --batch-sizes "$sizes" \
  --repeats 1 --json "$OUT.encode.json" >/dev/null
say "render-dataset and parse-dataset, CPU (workers $workers) and GPU"
run_cli bench "$input" --limit "$records" --tasks render-dataset,parse-dataset --backend both \
  --workers "$workers" --repeats 1 --json "$OUT.datasets.json" >/dev/null
run_cli bench --from "$OUT.encode.json" --from "$OUT.datasets.json" --json "$OUT.json" \
  --report "$OUT.html" >/dev/null
rm -f "$OUT.encode.json" "$OUT.datasets.json"

say "GPU wall, host and kernel time against batch size ($runner)"
if [ $runner = bun ]; then bun bench/gpu_batch_shape.ts; else deno run -A bench/gpu_batch_shape.ts; fi

say "GPU host ms/MB per text kind against the CPU's ($runner)"
if [ $runner = bun ]; then host=(bun bench/gpu_host.ts); else host=(deno run -A bench/gpu_host.ts); fi
if [ -n "${QUICK:-}" ]; then
  "${host[@]}" --rounds 1 --kinds harmony_outputs
else
  "${host[@]}" --rounds 3 --device
fi

say "round trips and wall time per batch ($runner)"
if [ $runner = bun ]; then trips=(bun bench/gpu_round_trips.ts); else trips=(deno run -A bench/gpu_round_trips.ts); fi
if [ -n "${QUICK:-}" ]; then
  "${trips[@]}" --rounds 1 --texts 64 --kinds hh_rlhf_harmless_base_test,harmony_outputs
else
  "${trips[@]}" --rounds 2
fi

say "ratios (GPU ÷ CPU, same task and batch)"
bun -e '
  const run = JSON.parse(require("node:fs").readFileSync(process.argv[1], "utf8"));
  const key = (p) => `${p.task} batch ${p.batchSize ?? "all"} workers ${p.workers}`;
  const cpu = new Map(run.points.filter((p) => p.backend === "cpu").map((p) => [key(p), p]));
  for (const p of run.points) {
    const c = cpu.get(key(p));
    const line = `${p.task.padEnd(15)} ${p.backend.padEnd(10)} workers ${String(p.workers).padStart(3)} batch ${String(p.batchSize ?? "all").padStart(8)}  ${p.mbPerSecond.toFixed(2).padStart(8)} MB/s`;
    console.log(p.backend === "cpu" || !c ? line : `${line}  ×${(p.mbPerSecond / c.mbPerSecond).toFixed(2)} of the CPU`);
  }
  console.log(`GPU: ${run.machine.gpuAdapter ?? "none"}${run.machine.gpuSoftware ? " (software)" : ""}`);
' "$OUT.json" 2>/dev/null || cat "$OUT.json"
echo
echo "done in $(( $(date +%s) - start )) s; results: $OUT.json"

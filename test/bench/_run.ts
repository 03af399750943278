// A synthetic bench run with every chart's data: two backends, three worker counts, three batch
// sizes and two peers — so the report tests see all four charts drawn.
import type { BenchPoint, BenchRun } from "../../src/bench/results.ts";

function point(p: Partial<BenchPoint> & Pick<BenchPoint, "task">): BenchPoint {
  const ms = p.ms ?? { min: 9, median: 10, max: 12 };
  return {
    implementation: "ours",
    backend: "cpu",
    workers: 1,
    batchSize: null,
    items: 1000,
    tokens: 100_000,
    inputBytes: 400_000,
    repeats: 3,
    itemsPerSecond: 100_000,
    tokensPerSecond: 10_000_000,
    mbPerSecond: 40,
    wallMsPerMB: 25,
    hostMsPerMB: 25,
    deviceMsPerMB: null,
    peakRssBytes: 100 * 2 ** 20,
    gpu: null,
    ...p,
    ms,
  };
}

export function syntheticRun(): BenchRun {
  const points: BenchPoint[] = [];
  for (const backend of ["cpu", "gpu"]) {
    for (const [i, batchSize] of [100, 1000, 10000].entries()) {
      for (const task of ["encode", "render", "parse"] as const) {
        points.push(point({
          task,
          backend,
          batchSize,
          mbPerSecond: backend === "cpu" ? 40 + i : 5 * (i + 1) ** 2,
          tokensPerSecond: backend === "cpu" ? 10e6 : 2e6 * (i + 1),
        }));
      }
    }
  }
  for (const task of ["render-dataset", "parse-dataset"] as const) {
    for (const workers of [1, 2, 4]) {
      points.push(
        point({ task, workers, itemsPerSecond: 10_000 * workers * (workers > 2 ? 0.8 : 0.95) }),
      );
    }
  }
  points.push(
    point({ task: "encode", implementation: "gpt-tokenizer", mbPerSecond: 11, checked: true }),
  );
  points.push(
    point({
      task: "render",
      implementation: "openai-harmony (WASM)",
      mbPerSecond: 1,
      checked: true,
    }),
  );
  return {
    version: 1,
    date: "2026-12-01T00:00:00.000Z",
    machine: {
      cpu: "Test CPU",
      cores: 4,
      memoryBytes: 16 * 2 ** 30,
      runtime: "bun",
      runtimeVersion: "1.4.5",
      os: "linux x64",
      gpuAdapter: "llvmpipe",
      gpuSoftware: true,
    },
    input: { files: ["examples/sample.jsonl"], records: 1000, bytes: 400_000 },
    coldStart: [{ what: "vocabulary", ms: 130, rssBytes: 50 * 2 ** 20 }],
    points,
    missingPeers: [{ name: "js-tiktoken", install: "npm install -D js-tiktoken" }],
  };
}

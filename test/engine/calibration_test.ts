import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  calibrate,
  CALIBRATION_ROUNDS,
  CalibrationCache,
  calibrationKey,
  type CalibrationTimer,
  decideThreshold,
  describeCalibration,
} from "../../src/engine/calibration.ts";
import { openBackend, ORDINARY } from "../../src/engine/mod.ts";
import { gpuSkip, requireGpu } from "../gpu/gpu_env.ts";

async function withTmp(fn: (dir: string) => Promise<void> | void): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), "harmony-calibration-"));
  try {
    await fn(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Injected timings: the CPU at `cpu` ms/MB, the GPU at `fixed` ms + `gpu` ms/MB. */
function model(cpu: number, fixed: number, gpu: number, calls?: string[]): CalibrationTimer {
  return (backend, texts) => {
    calls?.push(backend);
    const mb = texts.reduce((a, t) => a + t.length, 0) / 1e6;
    return backend === "cpu" ? cpu * mb : fixed + gpu * mb;
  };
}

test("decideThreshold() is the break-even size of the linear model, null when the GPU is not faster per MB", () => {
  const cases: Array<[number, number, number, number | null]> = [
    [30, 2, 10, 100_000],
    [40, 0, 10, 1],
    [30, 2, 30, null],
    [30, 2, 45, null],
    [30, Infinity, 10, null],
  ];
  for (const [cpuMsPerMB, gpuFixedMs, gpuMsPerMB, want] of cases) {
    assert.equal(decideThreshold({ cpuMsPerMB, gpuFixedMs, gpuMsPerMB }), want);
  }
});

test("calibrate() warms both backends up, then measures interleaved rounds and fits the model", async () => {
  const calls: string[] = [];
  const c = await calibrate(model(40, 3, 10, calls));
  assert.equal(c.threshold, 100_000);
  assert.ok(Math.abs(c.cpuMsPerMB - 40) < 1e-9);
  assert.ok(Math.abs(c.gpuFixedMs - 3) < 1e-9);
  assert.ok(Math.abs(c.gpuMsPerMB - 10) < 1e-9);
  assert.equal(calls.length, 2 + 3 * CALIBRATION_ROUNDS);
  assert.deepEqual(calls.slice(0, 5), ["gpu", "cpu", "cpu", "gpu", "gpu"]);
});

test("calibrate() keeps the best of each round (a slow outlier does not move the threshold)", async () => {
  let n = 0;
  const base = model(40, 3, 10);
  const c = await calibrate((b, t) => (n++ === 4 ? 1000 : 0) + (base(b, t) as number));
  assert.equal(c.threshold, 100_000);
});

test("describeCalibration() says what auto chose and why", () => {
  const m = { cpuMsPerMB: 40, gpuFixedMs: 3, gpuMsPerMB: 10 };
  assert.equal(
    describeCalibration({ ...m, threshold: 100_000 }, "cached"),
    "auto: GPU for batches of 100,000+ chars (cached: CPU 40.0 ms/MB, GPU 3.00 ms + 10.0 ms/MB)",
  );
  assert.match(
    describeCalibration({ ...m, threshold: null }, "measured"),
    /^auto: CPU for every batch, the GPU is not faster per MB \(measured: /,
  );
});

test("the calibration cache keeps entries per key and treats a malformed file as a miss", async () => {
  await withTmp((dir) => {
    const path = join(dir, "harmony-engine", "calibration.json");
    const cache = new CalibrationCache(path);
    assert.equal(cache.read("a"), undefined); // no file yet
    const e = {
      threshold: 5,
      cpuMsPerMB: 1,
      gpuFixedMs: 1,
      gpuMsPerMB: 0.5,
      measuredAt: "2026-12-01T00:00:00Z",
    };
    cache.write({ ...e, key: "a" });
    cache.write({ ...e, key: "b", threshold: null });
    assert.deepEqual(cache.read("a"), { ...e, key: "a" });
    assert.equal(cache.read("b")?.threshold, null);
    assert.equal(JSON.parse(readFileSync(path, "utf8")).version, 1);
    writeFileSync(path, "{ not json");
    assert.equal(cache.read("a"), undefined);
    writeFileSync(
      path,
      JSON.stringify({ version: 1, entries: { a: { key: "a", threshold: -1 } } }),
    );
    assert.equal(cache.read("a"), undefined);
  });
});

test("calibrationKey() names the adapter, the engine version and the runtime", () => {
  assert.match(
    calibrationKey("Fake GPU 9000"),
    /^Fake GPU 9000 \| harmony-engine \d+\.\d+\.\d+\S* \| (bun|deno|node) \d/,
  );
});

test("auto on a machine without a GPU device node starts no GPU runtime and says so", async () => {
  let asked = 0;
  const counting = {
    requestAdapter: () => (asked++, Promise.resolve(null)),
  } as unknown as GPU;
  const engine = await openBackend("auto", {
    gpu: counting,
    calibration: { mayHaveGpu: () => false, cachePath: null },
  });
  assert.equal(
    engine.encodeBatch(["hello world ".repeat(100_000)], ORDINARY) instanceof Promise,
    false,
  );
  assert.equal(asked, 0);
  assert.match(engine.info().reason ?? "", /no GPU device on this machine.*not started/);
  assert.equal(engine.describe(), "cpu");
  engine.destroy();
});

/** A hardware-looking adapter that counts device requests (and refuses them). */
function fakeGpu(counts: { adapters: number; devices: number }): GPU {
  const adapter = {
    info: { vendor: "fake", architecture: "", device: "", description: "Fake GPU 9000" },
    features: new Set<string>(),
    limits: { maxStorageBufferBindingSize: 1 << 27, maxBufferSize: 1 << 28 },
    requestDevice: () => {
      counts.devices++;
      return Promise.reject(new Error("no device in this test"));
    },
  };
  return {
    requestAdapter: () => (counts.adapters++, Promise.resolve(adapter)),
  } as unknown as GPU;
}

test("auto with a cached calibration opens no device until a batch reaches the cached threshold", async () => {
  await withTmp(async (dir) => {
    const cachePath = join(dir, "calibration.json");
    new CalibrationCache(cachePath).write({
      key: calibrationKey("Fake GPU 9000"),
      threshold: 1000,
      cpuMsPerMB: 40,
      gpuFixedMs: 0.04,
      gpuMsPerMB: 0,
      measuredAt: "2026-12-01T00:00:00Z",
    });
    const counts = { adapters: 0, devices: 0 };
    const engine = await openBackend("auto", {
      gpu: fakeGpu(counts),
      calibration: { cachePath },
      onWarning: () => {},
    });
    assert.equal(counts.devices, 0);
    assert.match(engine.describe(), /^cpu; auto: GPU for batches of 1,000\+ chars \(cached: /);
    assert.equal(engine.encodeBatch(["x".repeat(999)], ORDINARY) instanceof Promise, false);
    assert.equal(counts.devices, 0);
    const big = await engine.encodeBatch(["x".repeat(1000)], ORDINARY);
    assert.equal(big.get(0).length > 0, true);
    assert.equal(counts.devices, 1); // opened (and refused here: the CPU went on)
    assert.match(engine.info().choice ?? "", /cached/);
    engine.destroy();
  });
});

test("auto with a cached 'never' starts no device at all", async () => {
  await withTmp(async (dir) => {
    const cachePath = join(dir, "calibration.json");
    new CalibrationCache(cachePath).write({
      key: calibrationKey("Fake GPU 9000"),
      threshold: null,
      cpuMsPerMB: 40,
      gpuFixedMs: 1,
      gpuMsPerMB: 50,
      measuredAt: "2026-12-01T00:00:00Z",
    });
    const counts = { adapters: 0, devices: 0 };
    const engine = await openBackend("auto", { gpu: fakeGpu(counts), calibration: { cachePath } });
    await engine.encodeBatch(["hello world ".repeat(10_000)], ORDINARY);
    assert.equal(counts.devices, 0);
    assert.match(engine.describe(), /^cpu; auto: CPU for every batch/);
    engine.destroy();
  });
});

test("auto measures on a real device when nothing is cached, caches the choice and routes by it", {
  skip: gpuSkip,
}, async () => {
  await withTmp(async (dir) => {
    const cachePath = join(dir, "harmony-engine", "calibration.json");
    const calls: string[] = [];
    const engine = await openBackend("auto", {
      gpu: requireGpu(),
      calibration: { cachePath, allowSoftware: true, time: model(40, 3, 10, calls) },
    });
    try {
      assert.equal(calls.length, 2 + 3 * CALIBRATION_ROUNDS);
      assert.deepEqual(engine.info().backends, ["cpu", "gpu"]);
      assert.match(
        engine.info().choice ?? "",
        /^auto: GPU for batches of 100,000\+ chars \(measured/,
      );
      const entry = Object.values(JSON.parse(readFileSync(cachePath, "utf8")).entries)[0] as {
        threshold: number;
      };
      assert.equal(entry.threshold, 100_000);
      assert.equal(engine.encodeBatch(["hello"], ORDINARY) instanceof Promise, false);
      await engine.encodeBatch(["hello world ".repeat(10_000)], ORDINARY);
      assert.deepEqual(engine.info().batches, { cpu: 1, gpu: 1 });
      assert.match(engine.describe(), /^auto: 1 batches gpu \(.*\), 1 cpu; auto: GPU for/);
    } finally {
      engine.destroy();
    }
    // The next start reads the cache: no measurement.
    const again = await openBackend("auto", {
      gpu: requireGpu(),
      calibration: { cachePath, allowSoftware: true, time: model(40, 3, 10, calls) },
    });
    assert.equal(calls.length, 2 + 3 * CALIBRATION_ROUNDS);
    assert.match(again.info().choice ?? "", /cached/);
    again.destroy();
  });
});

test("auto keeps the CPU when the measured GPU is slower per MB, and frees the device", {
  skip: gpuSkip,
}, async () => {
  const engine = await openBackend("auto", {
    gpu: requireGpu(),
    calibration: { cachePath: null, allowSoftware: true, time: model(20, 1, 80) },
  });
  assert.deepEqual(engine.info().backends, ["cpu"]);
  assert.match(engine.describe(), /^cpu; auto: CPU for every batch/);
  assert.equal(
    engine.encodeBatch(["hello world ".repeat(20_000)], ORDINARY) instanceof Promise,
    false,
  );
  engine.destroy();
});

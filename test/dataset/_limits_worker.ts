// A worker for worker_pool_test.ts: answers every task with the resource limits it runs under.
import { resourceLimits } from "node:worker_threads";
import { serveWorker } from "../../src/dataset/worker_pool.ts";

await serveWorker(() => Promise.resolve(() => JSON.stringify(resourceLimits)));

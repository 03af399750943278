import { runBackendConformance } from "./conformance.ts";
import { CpuBackend } from "../../src/engine/cpu_backend.ts";

runBackendConformance("cpu backend", () => CpuBackend.create());

/**
 * One writer per output: an exclusive lock file (`OUTPUT.lock`, created with `O_EXCL`) holding
 * the owner's pid, host and start time. A lock whose owner is a dead process on this host is
 * stale and taken over; a live owner, or an owner on another host (whose liveness cannot be
 * checked), refuses the run with {@link OutputLockedError}.
 *
 * @module
 */

import { closeSync, openSync, readFileSync, rmSync, writeSync } from "node:fs";
import { hostname } from "node:os";
import process from "node:process";

/** What a lock file holds. */
export interface LockOwner {
  /** The owner's process id. */
  pid: number;
  /** The owner's host name. */
  host: string;
  /** When the lock was taken (ISO 8601). */
  since: string;
}

/** The output is locked by another live run. */
export class OutputLockedError extends Error {
  /** Stable code for the CLI. */
  readonly code = "locked";
  /** The lock file. */
  readonly lockFile: string;
  /** Its owner, when readable. */
  readonly owner?: LockOwner;

  /** Creates the error for `lockFile` held by `owner`. */
  constructor(message: string, lockFile: string, owner?: LockOwner) {
    super(message);
    this.name = "OutputLockedError";
    this.lockFile = lockFile;
    this.owner = owner;
  }
}

/** A held lock; {@link OutputLock.release} removes the file. */
export interface OutputLock {
  /** The lock file's path. */
  readonly path: string;
  /** Removes the lock file (idempotent). */
  release(): void;
}

/** Options of {@link acquireOutputLock}. */
export interface AcquireLockOptions {
  /** Whether a process of this host is alive (default: `process.kill(pid, 0)`). */
  isAlive?: (pid: number) => boolean;
  /** This host's name (default `os.hostname()`). */
  host?: string;
  /** This process's id (default `process.pid`). */
  pid?: number;
}

function defaultIsAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    // EPERM: the process exists but belongs to someone else.
    return (e as { code?: string }).code === "EPERM";
  }
}

function readOwner(path: string): LockOwner | undefined {
  try {
    const o = JSON.parse(readFileSync(path, "utf8")) as Partial<LockOwner>;
    if (typeof o.pid === "number" && typeof o.host === "string") {
      return { pid: o.pid, host: o.host, since: String(o.since ?? "") };
    }
  } catch {
    // An unreadable or half-written lock file: treated as held, see below.
  }
  return undefined;
}

/**
 * Takes the exclusive lock of `output` (the file `OUTPUT.lock`).
 *
 * @throws {OutputLockedError} when another live run holds it.
 * @example
 * ```ts
 * import { throws } from "node:assert/strict";
 * import { acquireOutputLock, OutputLockedError } from "./output_lock.ts";
 * import { tmpdir } from "node:os";
 * const out = `${tmpdir()}/lock-example-${Date.now()}`;
 * const lock = acquireOutputLock(out);
 * throws(() => acquireOutputLock(out), OutputLockedError); // a second run on the prefix is refused
 * lock.release();
 * ```
 */
export function acquireOutputLock(output: string, options: AcquireLockOptions = {}): OutputLock {
  const path = `${output}.lock`;
  const me: LockOwner = {
    pid: options.pid ?? process.pid,
    host: options.host ?? hostname(),
    since: new Date().toISOString(),
  };
  const isAlive = options.isAlive ?? defaultIsAlive;
  for (let attempt = 0; attempt < 3; attempt++) {
    let fd: number;
    try {
      fd = openSync(path, "wx");
    } catch (e) {
      if ((e as { code?: string }).code !== "EEXIST") throw e;
      const owner = readOwner(path);
      if (owner && owner.host === me.host && owner.pid !== me.pid && !isAlive(owner.pid)) {
        // Stale: its process is gone. Remove and retry (another starter may win the race).
        rmSync(path, { force: true });
        continue;
      }
      const who = owner
        ? `pid ${owner.pid} on ${owner.host.slice(0, 32)}, since ${owner.since}`
        : "an unreadable lock file";
      throw new OutputLockedError(
        `Cannot write ${output}: another run holds ${path} (${who}); ` +
          `if no such run is alive, remove ${path}`,
        path,
        owner,
      );
    }
    try {
      const bytes = new TextEncoder().encode(JSON.stringify(me) + "\n");
      writeSync(fd, bytes, 0, bytes.length, 0);
    } finally {
      closeSync(fd);
    }
    let held = true;
    return {
      path,
      release() {
        if (!held) return;
        held = false;
        rmSync(path, { force: true });
      },
    };
  }
  throw new OutputLockedError(`Cannot write ${output}: ${path} keeps reappearing`, path);
}

import { existsSync, readFileSync, readdirSync, rmSync, rmdirSync, mkdirSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';
import { MogeError } from '@moge/core';

/**
 * What makes a directory a training run's, and who may write into it. A run directory holds
 * `latest.json` and `checkpoints/step-…/`; a checkpoint belongs to the run directory two levels up
 * when its parent is that `checkpoints/` folder.
 */
export const LATEST_FILE = 'latest.json';
export const CHECKPOINTS_DIR = 'checkpoints';
export const RUN_LOCK_FILE = 'run.lock';

const STEP_DIR = /^step-\d{8}$/;

/** The checkpoints of a run directory, oldest first (complete ones only: temp folders start with a dot). */
export function listStepDirs(runDir: string): string[] {
  const checkpoints = join(runDir, CHECKPOINTS_DIR);
  if (!existsSync(checkpoints)) return [];
  return readdirSync(checkpoints).filter((n) => STEP_DIR.test(n)).sort().map((n) => join(checkpoints, n));
}

/** The run directory `checkpointDir` was written into, or undefined for a checkpoint copied elsewhere. */
export function runDirOf(checkpointDir: string): string | undefined {
  const abs = resolve(checkpointDir);
  return basename(dirname(abs)) === CHECKPOINTS_DIR ? dirname(dirname(abs)) : undefined;
}

/**
 * Refuses to let a run write into `dir` when it already holds another run's checkpoints: `latest.json`,
 * or checkpoints without it (a run killed while publishing its first checkpoint leaves exactly that).
 * `what` names the run that wanted the directory ("a new run"), for the message.
 */
export function refuseOtherRun(dir: string, what: string): void {
  const steps = listStepDirs(dir);
  if (existsSync(join(dir, LATEST_FILE))) {
    throw new MogeError('E_RUN_EXISTS', `${dir} already holds another training run (${LATEST_FILE}) and ${what} would write over it: continue that run with --resume ${dir}, or choose another --out`);
  }
  if (steps.length > 0) {
    throw new MogeError(
      'E_RUN_EXISTS',
      `${dir} already holds checkpoints (${steps.map((s) => basename(s)).join(', ')}) without ${LATEST_FILE}, as a run killed during its first checkpoint leaves them, ` +
        `and ${what} would write over them: continue that run with --resume ${steps.at(-1)} --out ${dir}, or choose another --out`,
    );
  }
}

interface LockHolder {
  pid: number;
  host: string;
  since: string;
}

function readHolder(file: string): LockHolder | undefined {
  try {
    const h = JSON.parse(readFileSync(file, 'utf8')) as Partial<LockHolder>;
    return typeof h.pid === 'number' && typeof h.host === 'string' ? { pid: h.pid, host: h.host, since: String(h.since) } : undefined;
  } catch {
    return undefined; // unreadable: a holder that died while writing it
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Takes `dir` for one training process: two processes on one run directory would interleave its
 * metrics and delete each other's half-written checkpoints. The lock is a file created exclusively;
 * one left by a process that is gone (killed) is taken over. Returns the release, which also removes
 * `dir` again if this call created it and nothing was written there.
 */
export function lockRunDir(dir: string): () => void {
  const created = !existsSync(dir);
  mkdirSync(dir, { recursive: true });
  const file = join(dir, RUN_LOCK_FILE);
  const me: LockHolder = { pid: process.pid, host: hostname(), since: new Date().toISOString() };
  for (let attempt = 0; ; attempt++) {
    try {
      writeFileSync(file, `${JSON.stringify(me)}\n`, { flag: 'wx' });
      break;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST' || attempt > 0) throw e;
      const holder = readHolder(file);
      if (holder && (holder.host !== me.host || isAlive(holder.pid))) {
        const where = holder.host === me.host ? `process ${holder.pid}` : `process ${holder.pid} on ${holder.host}`;
        throw new MogeError('E_RUN_LOCKED', `${dir} is in use by ${where} (since ${holder.since}); wait for it to finish or stop it — remove ${file} only if no such process is training`);
      }
      rmSync(file, { force: true }); // its holder is gone
    }
  }
  return () => {
    if (readHolder(file)?.pid === process.pid) rmSync(file, { force: true });
    if (created && readdirSync(dir).length === 0) rmdirSync(dir);
  };
}

import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { lockRunDir, refuseOtherRun, runDirOf, RUN_LOCK_FILE } from './run-dir';

const tmp = mkdtempSync(join(tmpdir(), 'moge-run-dir-'));

describe('run directories', () => {
  it('finds the run a checkpoint was written into, and none for one copied elsewhere', () => {
    expect(runDirOf('/r/run-a/checkpoints/step-00000010')).toBe('/r/run-a');
    expect(runDirOf('/r/exports/step-00000010')).toBeUndefined();
  });

  it('refuses a directory holding another run, with or without latest.json, and says how to continue it', () => {
    const empty = join(tmp, 'empty');
    mkdirSync(empty);
    expect(() => refuseOtherRun(empty, 'a new run')).not.toThrow();
    const withLatest = join(tmp, 'with-latest');
    mkdirSync(withLatest);
    writeFileSync(join(withLatest, 'latest.json'), '{}');
    expect(() => refuseOtherRun(withLatest, 'a new run')).toThrow(/already holds another training run \(latest\.json\) and a new run would write over it: continue that run with --resume/);
    const killed = join(tmp, 'killed');
    mkdirSync(join(killed, 'checkpoints', 'step-00000005'), { recursive: true });
    mkdirSync(join(killed, 'checkpoints', '.tmp-step-00000010-123'), { recursive: true });
    expect(() => refuseOtherRun(killed, 'a new run')).toThrow(/holds checkpoints \(step-00000005\) without latest\.json.*--resume .*step-00000005 --out/);
  });
});

describe('lockRunDir', () => {
  it('lets one holder in at a time, and releases', () => {
    const dir = join(tmp, 'locked');
    const release = lockRunDir(dir);
    expect(JSON.parse(readFileSync(join(dir, RUN_LOCK_FILE), 'utf8'))).toMatchObject({ pid: process.pid, host: hostname() });
    expect(() => lockRunDir(dir)).toThrow(new RegExp(`in use by process ${process.pid}`));
    writeFileSync(join(dir, 'metrics.jsonl'), '');
    release();
    expect(existsSync(join(dir, RUN_LOCK_FILE))).toBe(false);
    expect(existsSync(dir)).toBe(true); // it holds a file now
    lockRunDir(dir)();
  });

  it('takes over a lock whose process is gone, and removes a directory it created when nothing was written', () => {
    const dir = join(tmp, 'stale');
    mkdirSync(dir);
    const gone = spawnSync(process.execPath, ['-e', '0']).pid!; // exited by now
    writeFileSync(join(dir, RUN_LOCK_FILE), JSON.stringify({ pid: gone, host: hostname(), since: 'earlier' }));
    lockRunDir(dir)();
    expect(existsSync(join(dir, RUN_LOCK_FILE))).toBe(false);
    const fresh = join(tmp, 'fresh');
    lockRunDir(fresh)();
    expect(existsSync(fresh)).toBe(false);
  });

  it('does not take over a lock held on another host (it cannot tell whether that process lives)', () => {
    const dir = join(tmp, 'remote');
    mkdirSync(dir);
    writeFileSync(join(dir, RUN_LOCK_FILE), JSON.stringify({ pid: 1, host: `${hostname()}-elsewhere`, since: 'earlier' }));
    expect(() => lockRunDir(dir)).toThrow(/in use by process 1 on .*-elsewhere/);
  });
});

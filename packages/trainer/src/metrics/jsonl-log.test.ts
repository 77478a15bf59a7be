import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { JsonlLog, readStepLog } from './jsonl-log';
import type { StepRecord } from './step-record';

const dir = mkdtempSync(join(tmpdir(), 'moge-jsonl-log-'));
const record = (step: number): StepRecord => ({
  step,
  loss: 5 - step / 10,
  auxLoss: 1,
  lr: 1e-3,
  gradNorm: 0.5,
  tokens: 64,
  tokensPerSecond: 1000,
  elapsedS: step,
  imbalanceScore: [0],
  expertLoads: [[1, 1]],
});
const lines = (...records: StepRecord[]) => records.map((r) => JSON.stringify(r)).join('\n');

describe('JsonlLog.append', () => {
  // /dev/full answers every write with ENOSPC: a full disk without mounting one.
  it.skipIf(!existsSync('/dev/full'))('a full disk stops with E_LOG_WRITE naming the file, the step and how to continue', () => {
    expect(() => new JsonlLog('/dev/full').append(record(7))).toThrow(
      expect.objectContaining({ code: 'E_LOG_WRITE', message: expect.stringMatching(/^\/dev\/full: appending the record of step 7 failed: ENOSPC.*continue with --resume/) }),
    );
  });
});

describe('JsonlLog.truncateAfter', () => {
  it('keeps the records up to the step and drops later ones and a torn last line', () => {
    const path = join(dir, 'resume.jsonl');
    writeFileSync(path, `${lines(record(1), record(2), record(3))}\n{"step": 4, "loss`);
    new JsonlLog(path).truncateAfter(2);
    expect(readFileSync(path, 'utf8')).toBe(`${lines(record(1), record(2))}\n`);
  });

  it('empties a step log for a fresh run (step 0), a killed attempt\'s torn last line included', () => {
    const path = join(dir, 'fresh.jsonl');
    writeFileSync(path, `${lines(record(1))}\n{"step": 2, "lo`);
    new JsonlLog(path).truncateAfter(0);
    expect(readFileSync(path, 'utf8')).toBe('');
  });

  it('refuses a file that is not a step log and leaves it as it was', () => {
    const other = join(dir, 'other.json');
    writeFileSync(other, '{"a": 1}\n');
    expect(() => new JsonlLog(other).truncateAfter(0)).toThrow(/other\.json:1.*not a step record/);
    expect(readFileSync(other, 'utf8')).toBe('{"a": 1}\n');

    const mixed = join(dir, 'mixed.jsonl');
    const text = `${lines(record(1))}\nnot json\n${lines(record(2))}\n`;
    writeFileSync(mixed, text);
    expect(() => new JsonlLog(mixed).truncateAfter(1)).toThrow(/mixed\.jsonl:2: not JSON \(nor a torn last line/);
    expect(readFileSync(mixed, 'utf8')).toBe(text);
  });

  it('does not take a file\'s only line for a torn one', () => {
    const notes = join(dir, 'notes.txt');
    writeFileSync(notes, 'my notes, one line\n');
    expect(() => new JsonlLog(notes).truncateAfter(0)).toThrow(/notes\.txt:1: not JSON/);
    expect(readFileSync(notes, 'utf8')).toBe('my notes, one line\n');
  });

  it('refuses a directory, naming it', () => {
    const path = join(dir, 'a-directory');
    mkdirSync(path);
    expect(() => new JsonlLog(path).truncateAfter(0)).toThrow(/a-directory: not a file/);
  });
});

describe('readStepLog', () => {
  it('reads a killed run\'s log (torn last line skipped) and names the real line of a bad one', () => {
    const path = join(dir, 'read.jsonl');
    writeFileSync(path, `${lines(record(1), record(2))}\n{"step":3,"lo`);
    expect(readStepLog(path).map((r) => r.step)).toEqual([1, 2]);
    // Blank lines count: the bad record is on line 3 of the file.
    writeFileSync(path, `${lines(record(1))}\n\n${JSON.stringify({ step: 2 })}\n${lines(record(3))}\n`);
    expect(() => readStepLog(path)).toThrow(`${path}:3`);
    writeFileSync(path, `${lines(record(1))}\nnot json\n${lines(record(2))}\n`);
    expect(() => readStepLog(path)).toThrow(new RegExp(`${path}:2.*not JSON`));
  });
});

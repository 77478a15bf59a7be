import { appendFileSync, mkdirSync, readFileSync, statSync } from 'node:fs';
import { dirname } from 'node:path';
import { FileFormatError, MogeError } from '@moge/core';
import { fsyncPath, writeFileDurable } from '../checkpoint/fs-durable';
import { StepRecordSchema, type StepRecord } from './step-record';

/** Appends step records as JSON lines (one write per line, so a kill leaves whole lines). */
export class JsonlLog {
  constructor(readonly path: string) {
    mkdirSync(dirname(path), { recursive: true });
  }

  /**
   * A file system that refuses the line (disk full, quota, permissions) stops the run with a message
   * instead of a bare ENOSPC and a stack. The trainer appends a step's record before writing that
   * step's checkpoint, so the run's latest checkpoint is an earlier one, and a resume from it cuts
   * the log back to it, a half-written line included.
   */
  append(record: StepRecord): void {
    try {
      appendFileSync(this.path, `${JSON.stringify(record)}\n`);
    } catch (e) {
      const code = (e as { code?: unknown }).code;
      if (typeof code !== 'string' || !/^E[A-Z]+$/.test(code)) throw e;
      throw new MogeError(
        'E_LOG_WRITE',
        `${this.path}: appending the record of step ${record.step} failed: ${(e as Error).message}. The run stops before that step's checkpoint; fix the cause (free space, permissions) and continue with --resume, which cuts the log back to the checkpoint it continues from`,
        { cause: e },
      );
    }
  }

  /**
   * Forces the appended lines to disk. Called before a checkpoint is written: the checkpoint is
   * durable (fsync'd), so without this a power loss could keep a checkpoint whose steps' records
   * were still in the page cache, and a resume from it would carry a log with those steps missing.
   */
  sync(): void {
    fsyncPath(this.path);
  }

  /**
   * Keeps only records up to `step` — what a resume from a checkpoint at `step` continues from (0 for a
   * fresh run); lines a killed run wrote after its last checkpoint are dropped, and so is a torn last
   * line (one that a kill cut short, so it is not JSON). Anything else that is not a step record means
   * the file is not a step log: it is refused, whole, rather than rewritten without it.
   */
  truncateAfter(step: number): void {
    const stat = statSync(this.path, { throwIfNoEntry: false });
    if (!stat) return;
    if (!stat.isFile()) throw new MogeError('E_LOG_FILE', `${this.path}: not a file (a directory?); give the step log a file path`);
    const fix = 'give the log a new path or remove the file';
    const kept = parseStepLines(this.path, readFileSync(this.path, 'utf8'), fix).filter((l) => l.record.step <= step).map((l) => l.text);
    writeFileDurable(this.path, kept.length ? `${kept.join('\n')}\n` : '');
  }
}

/**
 * The step records of a JSONL log's text with their lines, validating every line; errors name the file
 * and the line's number in it (blank lines count) and end with `fix`. A kill can tear the line being
 * appended after step records, never a file's only line: such a torn last line is skipped.
 */
function parseStepLines(path: string, text: string, fix: string): { record: StepRecord; text: string }[] {
  const lines = text.split('\n');
  const out: { record: StepRecord; text: string }[] = [];
  lines.forEach((line, i) => {
    if (!line.trim()) return;
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch {
      if (out.length > 0 && lines.slice(i + 1).every((rest) => !rest.trim())) return;
      throw new FileFormatError(`${path}:${i + 1}`, `not JSON (nor a torn last line after step records): this is not a step log; ${fix}`);
    }
    const parsed = StepRecordSchema.safeParse(value);
    if (!parsed.success) throw new FileFormatError(`${path}:${i + 1}`, `not a step record (${parsed.error.issues[0]?.message}): this is not a step log; ${fix}`);
    out.push({ record: parsed.data, text: line });
  });
  return out;
}

/**
 * Reads a metrics JSONL file, validating every line; errors name the file and the line's number in it.
 * A torn last line after step records (what a killed run leaves, see truncateAfter) is skipped.
 */
export function readStepLog(path: string): StepRecord[] {
  return parseStepLines(path, readFileSync(path, 'utf8'), 'check that it is the metrics.jsonl a run wrote').map((l) => l.record);
}

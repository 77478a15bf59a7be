import { appendFileSync, mkdirSync, readFileSync, statSync } from 'node:fs';
import { dirname } from 'node:path';
import { FileFormatError, MogeError } from '@moge/core';
import { writeFileDurable } from '../checkpoint/fs-durable';
import { StepRecordSchema, type StepRecord } from './step-record';

/** Appends step records as JSON lines (one write per line, so a kill leaves whole lines). */
export class JsonlLog {
  constructor(readonly path: string) {
    mkdirSync(dirname(path), { recursive: true });
  }

  append(record: StepRecord): void {
    appendFileSync(this.path, `${JSON.stringify(record)}\n`);
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
    const lines = readFileSync(this.path, 'utf8').split('\n');
    const kept: string[] = [];
    let records = 0;
    lines.forEach((line, i) => {
      if (!line.trim()) return;
      let record: unknown;
      try {
        record = JSON.parse(line);
      } catch {
        // A kill can tear the line being appended after step records, never a file's only line.
        if (records > 0 && lines.slice(i + 1).every((rest) => !rest.trim())) return;
        throw new FileFormatError(`${this.path}:${i + 1}`, 'not JSON (nor a torn last line after step records): this is not a step log; give the log a new path');
      }
      const parsed = StepRecordSchema.safeParse(record);
      if (!parsed.success) throw new FileFormatError(`${this.path}:${i + 1}`, 'not a step record: this is not a step log; give the log a new path or remove the file');
      records++;
      if (parsed.data.step <= step) kept.push(line);
    });
    writeFileDurable(this.path, kept.length ? `${kept.join('\n')}\n` : '');
  }
}

/**
 * Reads a metrics JSONL file, validating every line; errors name the file and the line's number in it.
 * A torn last line after step records (what a killed run leaves, see truncateAfter) is skipped.
 */
export function readStepLog(path: string): StepRecord[] {
  const lines = readFileSync(path, 'utf8').split('\n');
  const records: StepRecord[] = [];
  lines.forEach((line, i) => {
    if (!line.trim()) return;
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch {
      if (records.length > 0 && lines.slice(i + 1).every((rest) => !rest.trim())) return;
      throw new FileFormatError(`${path}:${i + 1}`, 'not JSON (nor a torn last line after step records): this is not a step log');
    }
    const parsed = StepRecordSchema.safeParse(value);
    if (!parsed.success) throw new FileFormatError(`${path}:${i + 1}`, `not a step record: ${parsed.error.issues[0]?.message}`);
    records.push(parsed.data);
  });
  return records;
}

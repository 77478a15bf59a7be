import { appendFileSync, existsSync, mkdirSync, readFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { FileFormatError } from '@moge/core';
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
   * Keeps only records up to `step` — what a resume from a checkpoint at `step` continues from; lines
   * a killed run wrote after its last checkpoint are dropped (a torn last line included).
   */
  truncateAfter(step: number): void {
    if (!existsSync(this.path)) return;
    const kept = readFileSync(this.path, 'utf8')
      .split('\n')
      .filter((line) => {
        if (!line.trim()) return false;
        try {
          return (JSON.parse(line) as { step?: number }).step! <= step;
        } catch {
          return false;
        }
      });
    writeFileDurable(this.path, kept.length ? `${kept.join('\n')}\n` : '');
  }
}

/** Reads a metrics JSONL file, validating every line (errors name file and line). */
export function readStepLog(path: string): StepRecord[] {
  return readFileSync(path, 'utf8')
    .split('\n')
    .filter((l) => l.trim())
    .map((line, i) => {
      const parsed = StepRecordSchema.safeParse(JSON.parse(line));
      if (!parsed.success) throw new FileFormatError(`${path}:${i + 1}`, `not a step record: ${parsed.error.issues[0]?.message}`);
      return parsed.data;
    });
}

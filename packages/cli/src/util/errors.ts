import { MogeError } from '@moge/core';

/** Exit codes: 1 = the command failed on its inputs or work, 2 = bad usage (unknown flag, missing value). */
export function reportError(e: unknown): number {
  if (e instanceof MogeError) {
    process.stderr.write(`moge: ${e.message}\n`);
    return 1;
  }
  if (e instanceof Error && 'code' in e && typeof (e as { code: unknown }).code === 'string' && (e as { code: string }).code.startsWith('commander.')) {
    return 2; // commander has printed its own message
  }
  process.stderr.write(`moge: unexpected error: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
  return 1;
}

/** A flag value that cannot be used: names the flag, the value and what was expected. */
export function badFlag(flag: string, value: unknown, expected: string): MogeError {
  return new MogeError('E_BAD_FLAG', `${flag}: got ${JSON.stringify(value)}, expected ${expected}`);
}

export function parseIntFlag(flag: string, value: string, min = 0): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < min) throw badFlag(flag, value, `an integer ≥ ${min}`);
  return n;
}

export function parseNumberFlag(flag: string, value: string, min = -Infinity): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n < min) throw badFlag(flag, value, `a number ≥ ${min}`);
  return n;
}

import { InfeasibleError, MogeError } from '@moge/core';

/** Exit codes: 1 = the command failed on its inputs or work, 2 = bad usage (unknown flag, missing value). */
export function reportError(e: unknown): number {
  if (e instanceof MogeError) {
    process.stderr.write(`moge: ${e.message}\n`);
    return 1;
  }
  if (e instanceof Error && 'code' in e && typeof (e as { code: unknown }).code === 'string' && (e as { code: string }).code.startsWith('commander.')) {
    return 2; // commander has printed its own message
  }
  const fsMessage = fileSystemMessage(e);
  if (fsMessage) {
    process.stderr.write(`moge: ${fsMessage}\n`);
    return 1;
  }
  process.stderr.write(`moge: unexpected error: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
  return 1;
}

/** What a file-system error code means for the path it names, and what to do about it. */
const FS_REASONS: Record<string, string> = {
  EISDIR: 'is a directory; give a file path',
  ENOTDIR: 'a part of this path is a file, not a directory; give a path under a directory',
  EEXIST: 'exists as a file where a directory is needed; give a path under a directory',
  ENOENT: 'no such file or directory',
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  ENOSPC: 'no space left on the device',
  EROFS: 'read-only file system',
};

/**
 * A one-line message for Node's file-system errors (a directory where a file was expected, a file
 * where a directory was, a missing or unwritable path), which every command can meet on any path
 * flag: the path and the reason instead of a stack. Undefined for anything else.
 */
export function fileSystemMessage(e: unknown): string | undefined {
  if (!(e instanceof Error)) return undefined;
  const { code, path, dest, syscall } = e as NodeJS.ErrnoException & { dest?: string };
  if (typeof code !== 'string' || typeof path !== 'string' || !(code in FS_REASONS)) return undefined;
  // A rename names its source first; the destination is the path the user gave.
  const named = syscall === 'rename' && typeof dest === 'string' ? dest : path;
  return `${named}: ${FS_REASONS[code]} (${syscall ?? 'fs'} ${code})`;
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

/**
 * Ends a command whose result does not fit (memory over the device, nothing under a cap) after it has
 * printed the whole result (table or --json): one line on stderr and exit status 1 (E_INFEASIBLE), so
 * a script sees "does not fit" without reading the result. `problem` undefined: it fits.
 */
export function failIfInfeasible(problem: string | undefined): void {
  if (problem !== undefined) throw new InfeasibleError(problem);
}

import { vi } from 'vitest';

/**
 * Captures what a command writes to stdout and stderr, for CLI tests that call `main(argv)` in-process.
 * Restore with `vi.restoreAllMocks()` (each test file does so in `afterEach`).
 */
export function captureOutput(): { out: string[]; err: string[] } {
  const out: string[] = [];
  const err: string[] = [];
  vi.spyOn(process.stdout, 'write').mockImplementation((chunk) => (out.push(String(chunk)), true));
  vi.spyOn(process.stderr, 'write').mockImplementation((chunk) => (err.push(String(chunk)), true));
  return { out, err };
}

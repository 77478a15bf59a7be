import { afterEach, describe, expect, it, vi } from 'vitest';
import { main } from './main';
import { captureOutput } from './test-support/capture';

afterEach(() => vi.restoreAllMocks());

describe('main: exit codes of help', () => {
  it('exits 0 when help is asked for, by --help or by the help command', async () => {
    for (const argv of [['--help'], ['hw', '--help'], ['help'], ['help', 'hw'], ['hw', 'help', 'list']]) {
      const { out } = captureOutput();
      expect(await main(argv), argv.join(' ')).toBe(0);
      expect(out.join(''), argv.join(' ')).toMatch(/^Usage: moge/);
      vi.restoreAllMocks();
    }
  });

  it('exits 2 (usage) when a command group is given no subcommand, or help names no command', async () => {
    for (const argv of [[], ['hw'], ['help', 'nosuch']]) {
      const { err } = captureOutput();
      expect(await main(argv), argv.join(' ')).toBe(2);
      expect(err.join(''), argv.join(' ')).toMatch(/Usage: moge/);
      vi.restoreAllMocks();
    }
  });
});

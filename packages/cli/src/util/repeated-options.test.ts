import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { main } from '../main';
import { captureOutput } from '../test-support/capture';

afterEach(() => vi.restoreAllMocks());

const tmp = mkdtempSync(join(tmpdir(), 'moge-cli-repeated-'));

describe('options given twice', () => {
  it('are a usage error (status 2) naming the option and both values, before any work', async () => {
    const loads = join(tmp, 'loads.json');
    writeFileSync(loads, JSON.stringify({ loads: [[1, 2, 3, 4, 5, 6, 7, 8]] }));
    const { out, err } = captureOutput();
    expect(await main(['ep', 'place', '--loads', loads, '--policy', 'moge', '--ranks', '4', '--ranks', '8', '--nodes', '1'])).toBe(2);
    expect(err.join('')).toMatch(/^error: option '--ranks <n>' given twice \("4", then "8"\); give it once/);
    expect(out.join('')).toBe('');
    // The --flag=value spelling counts the same; a subcommand of a group is covered too.
    expect(await main(['hw', 'collective', '--cluster=hgx-h200:8', '--cluster', 'hgx-h100:8', '--op', 'all-reduce', '--bytes', '1'])).toBe(2);
    expect(err.join('')).toMatch(/option '--cluster <spec>' given twice \("hgx-h200:8", then "hgx-h100:8"\)/);
  });

  it('leaves switches and variadic options alone', async () => {
    const { out } = captureOutput();
    expect(await main(['hw', 'list', '--json', '--json'])).toBe(0);
    expect(Array.isArray(JSON.parse(out.join('')))).toBe(true);
    // --data collects files: given twice it gets past parsing to the next check (no --out), status 1.
    const { err } = captureOutput();
    expect(await main(['train', '--preset', 'moge-tiny', '--steps', '1', '--data', 'a.txt', '--data', 'b.txt'])).toBe(1);
    expect(err.join('')).toMatch(/^moge: --out: required/);
  });
});

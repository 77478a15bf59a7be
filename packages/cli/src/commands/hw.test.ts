import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { listNodePresets } from '@moge/ascend-hal';
import { captureOutput } from '../test-support/capture';
import { main } from '../main';
import { parseBytesFlag } from './hw';

let dir: string;
let out: string[];
let err: string[];

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'moge-hw-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));
afterEach(() => vi.restoreAllMocks());

function capture(): void {
  ({ out, err } = captureOutput());
}

async function run(...argv: string[]): Promise<number> {
  capture();
  return main(argv);
}

describe('moge hw list / show', () => {
  it('list prints one row per preset', async () => {
    expect(await run('hw', 'list')).toBe(0);
    const text = out.join('');
    for (const { spec } of listNodePresets()) expect(text).toContain(spec.name);
    expect(text).toContain('atlas-900-a3'); // aliases are shown
  });

  it('list --json gives the specs with their aliases', async () => {
    expect(await run('hw', 'list', '--json')).toBe(0);
    const json = JSON.parse(out.join('')) as { name: string; aliases: string[] }[];
    expect(json.map((p) => p.name)).toEqual(listNodePresets().map((p) => p.spec.name));
    expect(json.find((p) => p.name === 'cloudmatrix384')?.aliases).toEqual(['atlas-900-a3']);
  });

  it('show prints each figure with its confidence and source', async () => {
    expect(await run('hw', 'show', 'atlas-800t-a2')).toBe(0);
    const text = out.join('');
    expect(text).toMatch(/memory bandwidth\s+1\.60 TB\/s\s+assumed/);
    expect(text).toMatch(/peak bf16\s+256\.0 T\/s\s+published\s+Pangu Pro/);
  });

  it('show lists the measured NCCL calibration of the H200 NVLink tier', async () => {
    expect(await run('hw', 'show', 'hgx-h200')).toBe(0);
    const text = out.join('');
    expect(text).toMatch(
      /intra-node collective efficiency\s+66\.9 %\s+measured\s+fitted by fitIntraNodeTier to tools\/calibrate\/data\/h200-collectives-2\.json/,
    );
    expect(text).toMatch(/intra-node overhead per call\s+29\.\d+ µs\s+measured/);
    expect(text).toMatch(/efficiency profile: nvidia-h200 \(measured\)/);
  });

  it('show --json prints the node spec', async () => {
    expect(await run('hw', 'show', 'hgx-h200', '--json')).toBe(0);
    const json = JSON.parse(out.join(''));
    expect(json.chip.peakFlops.bf16).toMatchObject({ value: 989e12, confidence: 'published' });
  });

  it('show of an unknown preset fails naming the field and listing presets', async () => {
    expect(await run('hw', 'show', 'h300')).toBe(1);
    expect(err.join('')).toMatch(/preset: got "h300", expected one of atlas-800t-a2/);
  });

  it('show of a misspelt preset names the one meant', async () => {
    expect(await run('hw', 'show', 'atlas800t-a2')).toBe(1);
    expect(err.join('')).toMatch(/preset: got "atlas800t-a2", expected a node preset; did you mean "atlas-800t-a2"\?/);
  });
});

describe('moge hw collective', () => {
  it('--json prints timeS, algBandwidth and busBandwidth in bytes/s', async () => {
    expect(
      await run(
        'hw',
        'collective',
        '--cluster',
        'hgx-h200:8',
        '--op',
        'all-reduce',
        '--bytes',
        '1GiB',
        '--algorithm',
        'ring',
        '--json',
      ),
    ).toBe(0);
    const json = JSON.parse(out.join(''));
    expect(json).toMatchObject({
      cluster: 'hgx-h200:8',
      op: 'all-reduce',
      bytes: 2 ** 30,
      ranks: 8,
      algorithm: 'ring',
    });
    expect(json.algBandwidth).toBeCloseTo(json.bytes / json.timeS, 6);
    expect(json.busBandwidth).toBeCloseTo((json.algBandwidth * 14) / 8, 6);
    expect(json.bytesConvention).toMatch(/buffer size per rank/);
  });

  it('defaults to every device and the fastest algorithm; prints a table for people', async () => {
    expect(
      await run(
        'hw',
        'collective',
        '--cluster',
        'atlas-800t-a2:16',
        '--op',
        'all-gather',
        '--bytes',
        '256MB',
      ),
    ).toBe(0);
    const text = out.join('');
    expect(text).toMatch(/over 16 ranks \(2 node\(s\) × 8\)/);
    expect(text).toContain('algorithm hierarchical');
    expect(text).toContain('inter-node');
  });

  it('reads a cluster file', async () => {
    const file = join(dir, 'lab.yaml');
    writeFileSync(
      file,
      'preset: atlas-800t-a2\ndevices: 16\nnode:\n  interNode:\n    bandwidth: 50000000000\n',
    );
    expect(
      await run('hw', 'collective', '--cluster', file, '--op', 'all-to-all', '--bytes', '1e8', '--json'),
    ).toBe(0);
    // The preset's name alone would pass the overridden figures off as the preset's.
    expect(JSON.parse(out.join(''))).toMatchObject({ cluster: `atlas-800t-a2:16 (with overrides from ${file})`, nodes: 2 });
  });

  it('refuses a misspelt override in a cluster file, naming the file, the field and the one meant', async () => {
    const file = join(dir, 'typo.yaml');
    writeFileSync(file, 'preset: hgx-h200\ndevices: 16\nnode: {interNode: {bandwith: 1e11}}\n');
    expect(await run('hw', 'collective', '--cluster', file, '--op', 'all-to-all', '--bytes', '1GiB')).not.toBe(0);
    expect(err.join('')).toContain(`invalid cluster file ${file}:\n  - node.interNode.bandwith: got 100000000000, expected no such field; did you mean "bandwidth"?`);
  });

  it.each([
    [['--op', 'all-sum', '--bytes', '1'], /--op: got "all-sum", expected one of all-reduce/],
    [['--op', 'all-reduce', '--bytes', 'lots'], /--bytes: got "lots"/],
    [['--op', 'all-reduce', '--bytes', '1', '--algorithm', 'tree'], /--algorithm: got "tree"/],
    [['--op', 'all-reduce', '--bytes', '1', '--ranks', '0'], /--ranks: got "0"/],
    [
      ['--op', 'all-reduce', '--bytes', '1', '--ranks', '64'],
      /--ranks: got 64, expected at most the cluster's 8 devices/,
    ],
    [
      ['--op', 'all-to-all', '--bytes', '1', '--algorithm', 'ring'],
      /--algorithm: got "ring", expected one of direct/,
    ],
    // The group checks of the cost model name the flags too, not the request's fields (ranksPerNode).
    [
      ['--op', 'all-reduce', '--bytes', '1', '--ranks', '6', '--ranks-per-node', '4'],
      /--ranks-per-node: got 4, expected a divisor of --ranks \(6\): every node holds the same number of ranks/,
    ],
    [['--op', 'send-recv', '--bytes', '1', '--ranks', '4'], /--ranks: got 4, expected 2 for send-recv/],
  ])('bad flags fail with a message naming the flag: %j', async (flags, message) => {
    expect(await run('hw', 'collective', '--cluster', 'hgx-h200:8', ...flags)).toBe(1);
    expect(err.join('')).toMatch(message);
  });

  it('reports every bad flag at once', async () => {
    expect(
      await run(
        'hw',
        'collective',
        '--cluster',
        'hgx-h200:8',
        '--op',
        'all-sum',
        '--bytes',
        'lots',
        '--ranks',
        'x',
      ),
    ).toBe(1);
    const text = err.join('');
    for (const flag of ['--op', '--bytes', '--ranks']) expect(text).toContain(`- ${flag}: got`);
  });

  it('--algorithm auto is the default choice', async () => {
    expect(
      await run(
        'hw',
        'collective',
        '--cluster',
        'atlas-800t-a2:16',
        '--op',
        'all-reduce',
        '--bytes',
        '1GB',
        '--algorithm',
        'auto',
        '--json',
      ),
    ).toBe(0);
    const auto = JSON.parse(out.join(''));
    expect(
      await run(
        'hw',
        'collective',
        '--cluster',
        'atlas-800t-a2:16',
        '--op',
        'all-reduce',
        '--bytes',
        '1GB',
        '--json',
      ),
    ).toBe(0);
    expect(JSON.parse(out.join(''))).toEqual(auto);
  });

  it('a bad cluster names the field', async () => {
    expect(
      await run('hw', 'collective', '--cluster', 'hgx-h200:12', '--op', 'all-reduce', '--bytes', '1'),
    ).toBe(1);
    expect(err.join('')).toMatch(/devices: got 12, expected at most 8 or a multiple of 8/);
  });

  it('a missing required flag is a usage error', async () => {
    expect(await run('hw', 'collective', '--op', 'all-reduce', '--bytes', '1')).toBe(2);
  });
});

describe('parseBytesFlag', () => {
  it('reads counts and units', () => {
    expect(parseBytesFlag('--bytes', '268435456')).toBe(268435456);
    expect(parseBytesFlag('--bytes', '2.5e8')).toBe(2.5e8);
    expect(parseBytesFlag('--bytes', '256MiB')).toBe(256 * 2 ** 20);
    expect(parseBytesFlag('--bytes', '1 GB')).toBe(1e9);
    expect(() => parseBytesFlag('--bytes', '-1')).toThrow(/--bytes/);
    expect(() => parseBytesFlag('--bytes', '1XB')).toThrow(/--bytes/);
    // Times of 1e307 bytes were Infinity (null in --json); a fraction of a byte is not a count.
    expect(() => parseBytesFlag('--bytes', '1e307')).toThrow(/--bytes: got "1e307", expected a whole byte count up to 1e15/);
    expect(() => parseBytesFlag('--bytes', '1.5')).toThrow(/--bytes: got "1\.5"/);
    expect(parseBytesFlag('--bytes', '1.5GiB')).toBe(1.5 * 2 ** 30);
  });
});

import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { captureOutput } from '../test-support/capture';
import { main } from '../main';

let dir: string;
let out: string[];
let err: string[];

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'moge-ep-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));
afterEach(() => vi.restoreAllMocks());

function capture(): void {
  ({ out, err } = captureOutput());
}

function loadsFile(name: string, body: unknown): string {
  const path = join(dir, name);
  writeFileSync(path, typeof body === 'string' ? body : JSON.stringify(body));
  return path;
}

// Two layers of 8 experts; expert 0 (layer 0) and expert 7 (layer 1) are hot.
const skewed = { loads: [[400, 10, 20, 30, 40, 50, 60, 70], [5, 5, 5, 5, 5, 5, 5, 300]] };

describe('moge ep place', () => {
  it('--json prints per layer maxOverMean, rankLoads and a physicalToLogical map with equal slots per rank', async () => {
    const file = loadsFile('skewed.json', skewed);
    capture();
    const code = await main(['ep', 'place', '--loads', file, '--policy', 'eplb-hierarchical', '--ranks', '4', '--nodes', '2', '--groups', '2', '--redundant', '4', '--json']);
    expect(code).toBe(0);
    const json = JSON.parse(out.join(''));
    expect(json).toMatchObject({ policy: 'eplb-hierarchical', numRanks: 4, numNodes: 2, slotsPerRank: 3 });
    expect(json.layers).toHaveLength(2);
    for (const [l, layer] of (json.layers as { maxOverMean: number; rankLoads: number[]; physicalToLogical: number[]; replicaCounts: number[] }[]).entries()) {
      expect(layer.physicalToLogical).toHaveLength(12);
      expect(new Set(layer.physicalToLogical).size).toBe(8); // every expert placed
      expect(layer.rankLoads.reduce((s, v) => s + v, 0)).toBeCloseTo(skewed.loads[l]!.reduce((s, v) => s + v, 0), 6);
      const mean = layer.rankLoads.reduce((s, v) => s + v, 0) / 4;
      expect(layer.maxOverMean).toBeCloseTo(Math.max(...layer.rankLoads) / mean, 12);
    }
    // The hot expert of layer 0 was replicated.
    expect(json.layers[0].replicaCounts[0]).toBeGreaterThan(1);
  });

  it('balances better than the load-blind MoGE mapping and prints a table for people', async () => {
    const file = loadsFile('skewed2.json', skewed);
    capture();
    await main(['ep', 'place', '--loads', file, '--policy', 'moge', '--ranks', '4', '--nodes', '2', '--json']);
    const moge = JSON.parse(out.join('')).meanMaxOverMean as number;
    capture();
    await main(['ep', 'place', '--loads', file, '--policy', 'eplb-global', '--ranks', '4', '--nodes', '2', '--redundant', '4', '--json']);
    const eplb = JSON.parse(out.join('')).meanMaxOverMean as number;
    expect(eplb).toBeLessThan(moge);
    capture();
    expect(await main(['ep', 'place', '--loads', file, '--policy', 'greedy', '--ranks', '4', '--nodes', '1'])).toBe(0);
    const text = out.join('');
    expect(text).toMatch(/greedy: 8 experts on 4 ranks \(1 nodes × 4\), 2 slots per rank/);
    expect(text).toMatch(/layer\s+max\/mean/);
    expect(text).toMatch(/mean max\/mean over 2 layers/);
  });

  it('names the bad field of a loads file', async () => {
    const file = loadsFile('ragged.json', { loads: [[1, 2, 3], [1, 2]] });
    capture();
    expect(await main(['ep', 'place', '--loads', file, '--policy', 'greedy', '--ranks', '3', '--nodes', '1'])).toBe(1);
    expect(err.join('')).toMatch(/loads\[1\]: got \[1,2\], expected 3 entries/);
    const negative = loadsFile('negative.json', { loads: [[1, -2, 3]] });
    capture();
    expect(await main(['ep', 'place', '--loads', negative, '--policy', 'greedy', '--ranks', '3', '--nodes', '1'])).toBe(1);
    expect(err.join('')).toMatch(/loads\[0\]\[1\]: got -2/);
  });

  it('names the flag, the value and what would work', async () => {
    const file = loadsFile('ok.json', skewed);
    capture();
    expect(await main(['ep', 'place', '--loads', file, '--policy', 'random', '--ranks', '4', '--nodes', '1'])).toBe(1);
    expect(err.join('')).toMatch(/--policy: got "random", expected/);
    capture();
    expect(await main(['ep', 'place', '--loads', file, '--policy', 'greedy', '--ranks', 'four', '--nodes', '1'])).toBe(1);
    expect(err.join('')).toMatch(/--ranks: got "four", expected a whole number ≥ 1/);
    capture();
    expect(await main(['ep', 'place', '--loads', file, '--policy', 'eplb-global', '--ranks', '3', '--nodes', '1'])).toBe(1);
    expect(err.join('')).toMatch(/--redundant: got 0, expected a value making numExperts \(8\) \+ --redundant a multiple of --ranks \(3\).*e\.g\. 1 or 4/);
    capture();
    expect(await main(['ep', 'place', '--loads', join(dir, 'missing.json'), '--policy', 'greedy', '--ranks', '4', '--nodes', '1'])).toBe(1);
    expect(err.join('')).toMatch(/--loads \S*missing\.json: no such file/);
    capture();
    expect(await main(['ep', 'place', '--loads', file, '--policy', 'greedy', '--ranks', '2', '--nodes', '1', '--redundant', '1000000'])).toBe(1);
    expect(err.join('')).toMatch(/--redundant: got 1000000, expected at most experts × ranks = 16/);
    capture();
    expect(await main(['ep', 'place', '--loads', file, '--policy', 'eplb-global', '--ranks', '4', '--nodes', '1', '--groups', '3'])).toBe(1);
    expect(err.join('')).toMatch(/--groups: got 3, expected nothing: policy "eplb-global" places experts without groups/);
  });
});

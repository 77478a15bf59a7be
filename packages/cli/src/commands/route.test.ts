import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { compareRouterCases, RouterCaseResultSchema, RouterCasesFileSchema } from '@moge/router';
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';
import { z } from 'zod';
import { captureOutput } from '../test-support/capture';
import { main } from '../main';
import { studyOptionsFromFlags } from './route';
import { sharedDir } from '../../../../tools/test/shared-dir';

// The golden router cases, read in place: <repo root>/../shared/golden/router-cases.json.
const goldenCases = resolve(sharedDir(), 'golden', 'router-cases.json');
const dir = mkdtempSync(join(tmpdir(), 'moge-cli-route-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
afterEach(() => vi.restoreAllMocks());

let out: string[];
let err: string[];

async function run(...argv: string[]): Promise<number> {
  ({ out, err } = captureOutput());
  return main(argv);
}

const ResultsFileSchema = z.object({ cases: z.array(RouterCaseResultSchema) });

describe('moge route eval', () => {
  it('routes the golden file; every case matches its expected block (ids exact, values 1e-5 relative)', async () => {
    const target = join(dir, 'results.json');
    expect(await run('route', 'eval', '--input', goldenCases, '--out', target)).toBe(0);
    expect(out.join('')).toMatch(/routed 4 case\(s\) .* on the reference backend/);

    const golden = RouterCasesFileSchema.parse(JSON.parse(readFileSync(goldenCases, 'utf8')));
    const written = ResultsFileSchema.parse(JSON.parse(readFileSync(target, 'utf8')));
    // Same fields as `expected`, plus the case name, nothing else.
    for (const [i, c] of written.cases.entries()) {
      expect(Object.keys(c).sort()).toEqual(['name', ...Object.keys(golden.cases[i]!.expected!)].sort());
    }
    expect(compareRouterCases(written.cases, golden.cases.map((c) => ({ name: c.name, ...c.expected! })))).toEqual([]);
    // Atomic write: no temp file is left beside the result.
    expect(readdirSync(dir).filter((f) => f.endsWith('.tmp'))).toEqual([]);
  });

  it('--check compares with the expected blocks and --json reports it for machines', async () => {
    expect(await run('route', 'eval', '--input', goldenCases, '--out', join(dir, 'checked.json'), '--check', '--json')).toBe(0);
    expect(JSON.parse(out.join(''))).toMatchObject({ cases: 4, backend: 'reference', mismatches: [] });
  });

  it('--check fails naming the field when a case does not match', async () => {
    const golden = JSON.parse(readFileSync(goldenCases, 'utf8')) as { cases: { expected: { expert_ids: number[][] } }[] };
    const row = golden.cases[1]!.expected.expert_ids[0]!;
    [row[0], row[1]] = [row[1]!, row[0]!];
    const input = join(dir, 'tampered.json');
    writeFileSync(input, JSON.stringify(golden));
    expect(await run('route', 'eval', '--input', input, '--out', join(dir, 'tampered-out.json'), '--check')).toBe(1);
    expect(out.join('')).toMatch(/mismatch: cases\[1\] \(16e-4g-top8-two-per-group\)\.expert_ids\[0\]: got \[/);
    expect(err.join('')).toMatch(/1 field\(s\) differ/);
  });

  it('bad input: names the field, the value and the fix, and writes nothing', async () => {
    const input = join(dir, 'bad.json');
    const target = join(dir, 'never.json');
    writeFileSync(
      input,
      JSON.stringify({ cases: [{ name: 'x', tokens: 1, num_experts: 4, num_groups: 2, top_k: 3, num_devices: 2, logits: [[0, 0, 0, 0]], router_scale: [1, 1, 1, 1] }] }),
    );
    expect(await run('route', 'eval', '--input', input, '--out', target)).toBe(1);
    expect(err.join('')).toMatch(/invalid router cases file .*bad\.json:\n\s+- cases\[0\]\.top_k: got 3, expected a multiple of num_groups \(2\)/);
    expect(existsSync(target)).toBe(false);

    writeFileSync(input, JSON.stringify({ cases: [{ name: 'x', tokens: 1 }] }));
    expect(await run('route', 'eval', '--input', input, '--out', target)).toBe(1);
    expect(err.join('')).toMatch(/cases\[0\]\.num_experts: got nothing/);

    expect(await run('route', 'eval', '--input', join(dir, 'missing.json'), '--out', target)).toBe(1);
    expect(err.join('')).toMatch(/--input \S*missing\.json: no such file/);
    expect(existsSync(target)).toBe(false);
  });

  it('--check on cases without expected blocks is refused before an existing --out is touched', async () => {
    const golden = JSON.parse(readFileSync(goldenCases, 'utf8')) as { cases: { expected?: unknown }[] };
    delete golden.cases[2]!.expected;
    const input = join(dir, 'no-expected.json');
    writeFileSync(input, JSON.stringify(golden));
    const kept = join(dir, 'kept.json');
    writeFileSync(kept, '{"earlier": "results"}\n');
    expect(await run('route', 'eval', '--input', input, '--out', kept, '--check')).toBe(1);
    expect(err.join('')).toMatch(/cases\[2\]\.expected: got nothing, expected an expected block/);
    expect(readFileSync(kept, 'utf8')).toBe('{"earlier": "results"}\n');
  });
});

describe('moge route study', () => {
  it('--json: top-k mean IS at 16 tokens within ±0.02 of 0.67; MoGE exactly 0', async () => {
    expect(await run('route', 'study', '--batch-sizes', '16', '--trials', '2000', '--seed', '5', '--json')).toBe(0);
    const json = JSON.parse(out.join('')) as { rows: { router: string; tokens: number; meanIS: number; pImbalanced: number }[] };
    const topk = json.rows.find((r) => r.router === 'topk' && r.tokens === 16)!;
    const moge = json.rows.find((r) => r.router === 'moge' && r.tokens === 16)!;
    expect(Math.abs(topk.meanIS - 0.67)).toBeLessThanOrEqual(0.02);
    expect(topk.pImbalanced).toBeGreaterThan(0.99);
    expect(moge.meanIS).toBe(0);
    expect(moge.pImbalanced).toBe(0);
    // No progress bar when stderr is not a terminal, so nothing but JSON anywhere.
    expect(err.join('')).toBe('');
  });

  it('prints a table for people over several batch sizes', async () => {
    expect(await run('route', 'study', '--batch-sizes', '16,64', '--trials', '100')).toBe(0);
    const text = out.join('');
    expect(text).toMatch(/^topk\s+16\s+100\s+0\.\d{4}.*0\.67$/m);
    expect(text).toMatch(/^moge\s+16\s+100\s+0\.0000\s/m);
    expect(text).toMatch(/^topk\s+64\s+100\s.*0\.34$/m);
    expect(text).toMatch(/^moge\s+64\s+100\s+0\.0000\s/m);
  });

  it('bad flags name the flag, the value and what was expected', async () => {
    expect(await run('route', 'study', '--batch-sizes', '16,x')).toBe(1);
    expect(err.join('')).toMatch(/--batch-sizes: got "16,x", expected comma-separated positive integers/);
    expect(await run('route', 'study', '--trials', '0')).toBe(1);
    expect(err.join('')).toMatch(/--trials: got "0", expected a whole number ≥ 1/);
    expect(await run('route', 'study', '--devices', '3')).toBe(1);
    expect(err.join('')).toMatch(/--devices: got 3, expected a divisor of --experts \(64\)/);
    expect(() => studyOptionsFromFlags({ topK: '4' })).toThrow(/--top-k: got 4, expected a multiple of --devices \(8\)/);
    expect(studyOptionsFromFlags({ batchSizes: '16, 64', seed: '7' })).toEqual({ batchSizes: [16, 64], seed: 7 });
  });
});

import { readFileSync } from 'node:fs';
import { createReferenceBackend } from '@moge/ascend-hal';
import { parseWith, ValidationError } from '@moge/core';
import { describe, expect, it } from 'vitest';
import { goldenPath } from '../test-support/golden-path';
import { compareRouterCase, compareRouterCases } from './compare';
import { evaluateRouterCase, evaluateRouterCases, RouterCasesFileSchema, type RouterCase } from './router-cases';

const backend = createReferenceBackend();
const golden = parseWith(RouterCasesFileSchema, JSON.parse(readFileSync(goldenPath('router-cases.json'), 'utf8')), 'router-cases.json');

describe('golden router cases (independent PyTorch float64 reference)', () => {
  it('every case matches: ids and counts exactly, values to 1e-5 relative', () => {
    expect(golden.cases.length).toBeGreaterThanOrEqual(4);
    const results = evaluateRouterCases(backend, golden);
    const expected = golden.cases.map((c) => ({ name: c.name, ...c.expected! }));
    expect(compareRouterCases(results.cases, expected)).toEqual([]);
    // The files cover MoGE with one and two experts per group, plain top-k (M = 1) and D ≠ M.
    expect(new Set(golden.cases.map((c) => c.top_k / c.num_groups))).toEqual(new Set([1, 2, 4]));
    expect(golden.cases.some((c) => c.num_devices !== c.num_groups)).toBe(true);
  });

  it('the comparison catches a changed id, a value off by more than the tolerance, and a wrong name', () => {
    const c = golden.cases[0]!;
    const ours = evaluateRouterCase(backend, c);
    const swapped = { ...ours, expert_ids: ours.expert_ids.map((row, t) => (t === 2 ? [row[1]!, row[0]!, ...row.slice(2)] : row)) };
    expect(compareRouterCase(swapped, c.expected!, 'c')).toEqual([expect.stringMatching(/^c\.expert_ids\[2\]: got \[/)]);
    const off = { ...ours, aux_loss_unscaled: ours.aux_loss_unscaled * (1 + 3e-5) };
    expect(compareRouterCase(off, c.expected!, 'c')).toEqual([expect.stringMatching(/^c\.aux_loss_unscaled\[0\]: got .*relative tolerance 0\.00001/)]);
    const near = { ...ours, aux_loss_unscaled: ours.aux_loss_unscaled * (1 + 3e-6) };
    expect(compareRouterCase(near, c.expected!, 'c')).toEqual([]);
    expect(compareRouterCases([{ ...ours, name: 'x' }], [{ name: c.name, ...c.expected! }])).toEqual([
      expect.stringMatching(/\.name: got "x"/),
    ]);
  });
});

describe('RouterCasesFileSchema', () => {
  const base: RouterCase = {
    name: 'small',
    tokens: 2,
    num_experts: 4,
    num_groups: 2,
    top_k: 2,
    num_devices: 2,
    logits: [
      [0, 1, 2, 3],
      [3, 2, 1, 0],
    ],
    router_scale: [1, 1, 1, 1],
  };
  const bad = (patch: Partial<RouterCase>, pattern: RegExp) => {
    try {
      parseWith(RouterCasesFileSchema, { cases: [{ ...base, ...patch }] }, 'router cases');
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(ValidationError);
      expect((e as Error).message).toMatch(pattern);
    }
  };

  it('accepts a case without `expected` and routes it', () => {
    const file = parseWith(RouterCasesFileSchema, { cases: [base] }, 'router cases');
    const r = evaluateRouterCase(backend, file.cases[0]!);
    expect(r.expert_ids).toEqual([
      [1, 3],
      [0, 2],
    ]);
    expect(r.imbalance_score).toBe(0);
  });

  it('names the bad field, its value and what was expected', () => {
    bad({ top_k: 3 }, /cases\[0\]\.top_k: got 3, expected a multiple of num_groups \(2\)/);
    bad({ top_k: 6 }, /cases\[0\]\.top_k: got 6, expected at most num_experts \(4\)/);
    bad({ num_groups: 3, top_k: 3 }, /cases\[0\]\.num_groups: got 3, expected a divisor of num_experts \(4\)/);
    bad({ num_devices: 3 }, /cases\[0\]\.num_devices: got 3, expected a divisor of num_experts \(4\)/);
    bad({ logits: [[0, 1, 2, 3]] }, /cases\[0\]\.logits: got \[\[0,1,2,3\]\], expected tokens = 2 rows \(found 1\)/);
    bad({ logits: [[0, 1, 2], [0, 1, 2, 3]] }, /cases\[0\]\.logits\[0\]: got \[0,1,2\], expected num_experts = 4 values \(found 3\)/);
    bad({ router_scale: [1, 1] }, /cases\[0\]\.router_scale: got \[1,1\], expected num_experts = 4 values \(found 2\)/);
    bad({ tokens: 0 }, /cases\[0\]\.tokens: got 0/);
    // The router computes in float32: 1e308 would overflow and give NaN probabilities.
    bad({ logits: [[0, 1, 2, 1e308], [0, 1, 2, 3]] }, /cases\[0\]\.logits\[0\]\[3\]: got 1e\+308, expected a value float32 can hold/);
    bad({ router_scale: [1, 1, 1, -1e39] }, /cases\[0\]\.router_scale\[3\]: got -1e\+39, expected a value float32 can hold/);
    expect(() => parseWith(RouterCasesFileSchema, { cases: [] }, 'router cases')).toThrow(/cases: got \[\]/);
  });
});

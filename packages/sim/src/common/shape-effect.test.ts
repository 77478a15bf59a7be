import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { findChip } from '@moge/ascend-hal';
import { ComputeCostCache } from './op-cost';
import type { ComputeOp } from './ops';

/**
 * PRO-T1's two layouts run the same FLOPs per device in different shapes (TP1 × CP8: 512 tokens at
 * full width; TP8 + SP: 4096 tokens at an eighth of it). Measured on one H200
 * (tools/calibrate/h200_pro_t1_shapes.py): the shape itself barely matters, which is what the
 * simulator's work-only efficiency curve assumes.
 */
interface Row {
  op: string;
  m?: number;
  k: number;
  n: number;
  groups?: number;
  tokensPerGroup?: number;
  forwardS: number;
  inputGradS: number;
  weightGradS: number;
}
const data = JSON.parse(readFileSync(fileURLToPath(new URL('../../../../tools/calibrate/data/h200-pro-t1-shapes.json', import.meta.url)), 'utf8')) as {
  layouts: Record<'tp1-cp8' | 'tp8-sp', { ops: Row[]; totalS: number }>;
  ratioTp8OverTp1Cp8: number;
};

describe('matmul shapes of the PRO-T1 layouts (H200, not fitted to)', () => {
  const cost = new ComputeCostCache(findChip('nvidia-h200')!);
  const predicted = (rows: Row[]) =>
    rows.reduce((s, r) => {
      const op: ComputeOp =
        r.groups !== undefined
          ? { kind: 'grouped-matmul', name: r.op, module: 'experts', groups: r.groups, tokens: r.groups * r.tokensPerGroup!, k: r.k, n: r.n }
          : { kind: 'matmul', name: r.op, module: 'attention', m: r.m!, k: r.k, n: r.n };
      const t = cost.times(op);
      return s + t.forwardS + t.backwardInputS + t.backwardWeightS;
    }, 0);

  it('costs the two layouts\' shapes alike, as measured (TP8 + SP 1.013× the time of TP1 × CP8)', () => {
    expect(data.ratioTp8OverTp1Cp8).toBeGreaterThan(0.95);
    expect(data.ratioTp8OverTp1Cp8).toBeLessThan(1.05);
    const ratio = predicted(data.layouts['tp8-sp'].ops) / predicted(data.layouts['tp1-cp8'].ops);
    expect(Math.abs(Math.log(ratio / data.ratioTp8OverTp1Cp8))).toBeLessThan(Math.log(1.05));
  });

  it('times each layout\'s layer matmuls within 25 % of the measurement', () => {
    for (const layout of ['tp1-cp8', 'tp8-sp'] as const) {
      const l = data.layouts[layout];
      expect(Math.abs(Math.log(predicted(l.ops) / l.totalS)), layout).toBeLessThan(Math.log(1.25));
    }
  });
});

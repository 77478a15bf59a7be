import { describe, expect, it } from 'vitest';
import { startLineLog } from './live-view';
import type { StepRecord } from './step-record';

const record = (step: number, extra: Partial<StepRecord> = {}): StepRecord =>
  ({ step, loss: 6 - step / 100, auxLoss: 1, lr: 1e-3, gradNorm: 1, tokens: 1024, tokensPerSecond: 800, elapsedS: 1, imbalanceScore: [0, 0.25], expertLoads: [[1, 3]], ...extra }) as StepRecord;

describe('line log (progress for logs, not terminals)', () => {
  it('writes every 5 % of the steps, every evaluation and the last step, with the bar\'s fields and an ETA', () => {
    const lines: string[] = [];
    let clock = 0;
    const log = startLineLog(240, 0, 'moge-small', (l) => lines.push(l), () => clock);
    for (let step = 1; step <= 240; step++) {
      clock += 1000; // one second a step
      log.update(record(step, step === 50 ? { evalLoss: 5.5 } : {}));
    }
    // 240 / 20 = every 12 steps: 20 lines, plus the evaluation at step 50.
    expect(lines).toHaveLength(21);
    expect(lines[0]).toBe('moge-small step  12/240 | loss 5.880 | 800 tok/s | IS/layer 0.00 0.25 | load ▃█ | ETA 3m48s');
    expect(lines.find((l) => l.includes('step  50/'))).toContain('eval 5.500');
    // The last line has no ETA.
    expect(lines.at(-1)).toMatch(/^moge-small step 240\/240 \| loss 3\.600 .*load ▃█$/);
  });

  it('logs every step of a run shorter than 20 steps, and counts a resumed run\'s ETA from where it resumed', () => {
    const lines: string[] = [];
    let clock = 0;
    const log = startLineLog(10, 6, 'train', (l) => lines.push(l), () => clock);
    for (let step = 7; step <= 10; step++) {
      clock += 2000;
      log.update(record(step));
    }
    expect(lines.map((l) => l.split(' | ')[0])).toEqual(['train step  7/10', 'train step  8/10', 'train step  9/10', 'train step 10/10']);
    expect(lines[0]).toContain('ETA 6s');
  });
});

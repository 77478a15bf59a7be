import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { hopCrossesNodes } from './pipeline-stages';

describe('hopCrossesNodes', () => {
  it('crosses when a stage fills a node, and when two stages straddle a node boundary', () => {
    expect(hopCrossesNodes(0, 1, 8, 8)).toBe(true);
    expect(hopCrossesNodes(0, 1, 4, 8)).toBe(false);
    expect(hopCrossesNodes(1, 2, 4, 8)).toBe(true);
    expect(hopCrossesNodes(3, 0, 4, 16)).toBe(false);
    expect(hopCrossesNodes(3, 0, 4, 8)).toBe(true);
    // Stride 3 on 8-device nodes: ranks 6, 7 of stage 2 talk to 9, 10 of stage 3.
    expect(hopCrossesNodes(1, 2, 3, 8)).toBe(true);
    expect(hopCrossesNodes(0, 1, 3, 8)).toBe(false);
  });

  it('always crosses when a stage fills nodes, never when the whole pipeline fits one (property)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 64 }), fc.integer({ min: 2, max: 8 }), fc.constantFrom(1, 2, 4, 8, 16), (stride, pp, dpn) => {
        for (let s = 0; s < pp; s++) {
          const to = (s + 1) % pp;
          if (stride >= dpn) expect(hopCrossesNodes(s, to, stride, dpn)).toBe(true);
          if (stride * pp <= dpn) expect(hopCrossesNodes(s, to, stride, dpn)).toBe(false);
        }
      }),
      { numRuns: 200, seed: 9 },
    );
  });
});

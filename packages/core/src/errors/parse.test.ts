import { z } from 'zod';
import { describe, expect, it } from 'vitest';
import { parseWith } from './parse';
import type { ValidationError } from './moge-error';

const Flags = z.object({ policy: z.enum(['moge', 'eplb-hierarchical', 'eplb-global', 'greedy']), dtype: z.enum(['F32', 'BF16', 'F16']).optional() });

describe('parseWith: a value outside a list of choices', () => {
  it('suggests the choice it is a typo of, after the list', () => {
    expect(() => parseWith(Flags, { policy: 'mog' }, 'flags')).toThrow(
      'invalid flags:\n  - policy: got "mog", expected one of "moge"|"eplb-hierarchical"|"eplb-global"|"greedy"; did you mean "moge"?',
    );
    // Letter case is the likeliest slip of all.
    expect(() => parseWith(Flags, { policy: 'greedy', dtype: 'bf16' }, 'flags')).toThrow(/dtype: got "bf16", expected one of "F32"\|"BF16"\|"F16"; did you mean "BF16"\?$/);
  });

  it('suggests nothing for a value close to no choice, or too short to call a typo', () => {
    const message = (input: unknown) => {
      try {
        parseWith(Flags, input, 'flags');
      } catch (e) {
        return (e as ValidationError).message;
      }
      return '';
    };
    expect(message({ policy: 'round-robin' })).toMatch(/"greedy"$/);
    expect(message({ policy: 'gr' })).toMatch(/"greedy"$/);
    expect(message({ policy: 7 })).toMatch(/got 7, expected one of .*"greedy"$/);
  });
});

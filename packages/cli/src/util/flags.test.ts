import { afterEach, describe, expect, it, vi } from 'vitest';
import { parseWith } from '@moge/core';
import { z } from 'zod';
import { main } from '../main';
import { captureOutput } from '../test-support/capture';
import { intFlag } from './flags';

afterEach(() => vi.restoreAllMocks());

const parse = (value: string) => parseWith(z.object({ '--ranks': intFlag(1) }), { '--ranks': value }, 'flags')['--ranks'];

describe('intFlag', () => {
  it('takes digits (spaces around them too) and says "in digits" for numbers written otherwise', () => {
    expect(parse('8')).toBe(8);
    expect(parse(' 16 ')).toBe(16);
    for (const value of ['1e9', '8.0', '0x10', 'eight', '-4']) expect(() => parse(value)).toThrow(`--ranks: got "${value}", expected a whole number ≥ 1, in digits`);
    expect(() => parse('0')).toThrow(/--ranks: got "0", expected a whole number ≥ 1$/);
    expect(() => parse('99999999999999999999')).toThrow(/expected a whole number ≥ 1 \(and below 2\^53\)$/);
  });

  it('is the one whole-number rule of every command: the same words from ep, hw, mem, model, route, sim and train', async () => {
    const { err } = captureOutput();
    const argvs = [
      ['ep', 'place', '--loads', 'x.json', '--policy', 'moge', '--ranks', '1e3', '--nodes', '1'],
      ['hw', 'collective', '--cluster', 'hgx-h200:8', '--op', 'all-reduce', '--bytes', '1', '--ranks', '1e3'],
      ['mem', 'infer', '--arch', 'moge-tiny', '--batch', '1e3'],
      ['model', 'info', 'moge-tiny', '--seq-len', '1e3'],
      ['route', 'study', '--trials', '1e3'],
      ['sim', 'search', '--arch', 'moge-tiny', '--cluster', 'hgx-h200:8', '--top', '1e3'],
      ['train', '--preset', 'moge-tiny', '--steps', '1e3', '--out', 'never-written'],
    ];
    for (const argv of argvs) {
      err.length = 0;
      expect(await main(argv), argv.join(' ')).toBe(1);
      expect(err.join(''), argv.join(' ')).toMatch(/: got "1e3", expected a whole number ≥ \d+, in digits\n/);
    }
  });
});

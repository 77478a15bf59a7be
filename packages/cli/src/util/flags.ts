import type { Command } from 'commander';
import { z } from 'zod';
import { MogeError } from '@moge/core';

/** Options that say how a command reports, not what it does: never refused as ignored. */
const REPORTING = new Set(['live', 'json']);

const kebab = (key: string) => `--${key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;

/**
 * Refuses flags that would be ignored in this mode: silently dropping them would leave a user
 * believing, say, that the learning rate was set. `o` is the command's options; without `cmd` an
 * option counts as given when it is defined (commands with no commander defaults), with `cmd` when
 * commander says it came from the command line (defaults are not given), and flags are named as
 * declared (`--no-overlap`). The message names the flags, the mode and `hint` (default: the flags
 * the mode takes).
 */
export function refuseIgnoredFlags<T extends object>(o: T, used: readonly (keyof T & string)[], mode: string, options: { cmd?: Command; hint?: string } = {}): void {
  const { cmd } = options;
  const isGiven = (k: string) => (cmd ? ![undefined, 'default'].includes(cmd.getOptionValueSource(k)) : (o as Record<string, unknown>)[k] !== undefined);
  const flag = (k: string) => cmd?.options.find((x) => x.attributeName() === k)?.long ?? kebab(k);
  const keys = cmd ? [...new Set(cmd.options.map((x) => x.attributeName()))] : Object.keys(o);
  const ignored = keys.filter((k) => isGiven(k) && !REPORTING.has(k) && !(used as readonly string[]).includes(k));
  if (ignored.length === 0) return;
  const hint = options.hint ?? `${mode} takes ${used.map(flag).join(', ')}`;
  throw new MogeError('E_BAD_FLAG', `${ignored.map(flag).join(', ')}: not used ${mode}; drop ${ignored.length > 1 ? 'them' : 'it'} (${hint})`);
}

/**
 * A whole-number flag (`--ranks 8`) of at least `min`, from commander's text: one schema for every
 * command. Digits only — `8.0`, `1e3` or `0x10` are refused rather than read as a number the user
 * may not have meant, and the expectation says so; past 2^53 a count is no longer exact.
 */
export const intFlag = (min: number) =>
  z
    .string()
    .trim()
    .regex(/^\d+$/, `a whole number ≥ ${min}, in digits`)
    .transform(Number)
    .pipe(z.number().int(`a whole number ≥ ${min} (and below 2^53)`).min(min, `a whole number ≥ ${min}`));

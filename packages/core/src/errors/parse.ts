import type { z } from 'zod';
import { ValidationError, type FieldIssue } from './moge-error';

function formatPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const key of path) {
    if (typeof key === 'number') out += `[${key}]`;
    else out += out ? `.${String(key)}` : String(key);
  }
  return out;
}

function valueAt(root: unknown, path: readonly PropertyKey[]): unknown {
  let cur: unknown = root;
  for (const key of path) {
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = (cur as Record<PropertyKey, unknown>)[key];
  }
  return cur;
}

/** Edit distance (insertions, deletions, substitutions) between two short strings. */
function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) cur[j] = Math.min(prev[j]! + 1, cur[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    prev = cur;
  }
  return prev[b.length]!;
}

/** What an unknown field should have been: the closest known one, when it is close (a typo). */
function unknownFieldExpectation(key: string, known: readonly string[] | undefined): string {
  if (!known?.length) return 'no such field here (a typo?)';
  let best = '';
  let bestDistance = Infinity;
  for (const k of known) {
    const d = editDistance(key.toLowerCase(), k.toLowerCase());
    if (d < bestDistance) [best, bestDistance] = [k, d];
  }
  return bestDistance <= Math.max(2, Math.floor(key.length / 3)) ? `no such field; did you mean "${best}"?` : `no such field (known: ${known.join(', ')})`;
}

const NOUNS: Record<string, string> = {
  int: 'an integer',
  number: 'a number',
  string: 'a string',
  array: 'an array',
  object: 'an object',
  boolean: 'true or false',
  bigint: 'an integer',
  nonoptional: 'a value',
  undefined: 'nothing',
  null: 'null',
};
const noun = (type: string) => NOUNS[type] ?? `a ${type}`;
const BOUNDS: Record<string, string> = { '>=': 'at least', '<=': 'at most', '>': 'more than', '<': 'less than' };

/**
 * zod's default messages read "Invalid input: expected number, received string" — after our "got …,
 * expected", that doubles up; keep what was expected, in plain words ("an array", "a number at
 * least 0", "a whole number"). Custom messages pass unchanged.
 */
function plainExpectation(message: string): string {
  let m = /^Invalid input: expected (\w+), received (\w+)$/.exec(message);
  if (m) {
    const [, want, got] = m as unknown as [string, string, string];
    if (got === 'undefined') return noun(want); // after "got nothing"
    if (want === 'int' && got === 'number') return 'a whole number';
    return `${noun(want)} (not ${noun(got)})`;
  }
  m = /^Too (?:big|small): expected (\w+) to have (>=|<=|>|<)(\d+) (\w+)$/.exec(message);
  if (m) {
    const [, type, op, n, unit] = m as unknown as [string, string, string, string, string];
    return `${noun(type)} with ${BOUNDS[op]} ${n} ${n === '1' ? unit.replace(/s$/, '') : unit}`;
  }
  m = /^Too (?:big|small): expected (\w+) to be (>=|<=|>|<)(.+)$/.exec(message);
  if (m) {
    const [, type, op, n] = m as unknown as [string, string, string, string];
    return `${noun(type)} ${BOUNDS[op]} ${n}`;
  }
  return message.replace(/^Invalid option: expected one of (.*)$/, 'one of $1').replace(/^Invalid input: expected (.+)$/, '$1');
}

/** A union's alternatives, each in plain words: "a number or a string". */
function unionExpectation(issue: z.core.$ZodIssue): string {
  const alternatives = (issue as { errors?: z.core.$ZodIssue[][] }).errors ?? [];
  const each = alternatives.map((errs) => errs.find((e) => e.path.length === 0)).filter((e) => e !== undefined);
  const words = [...new Set(each.map((e) => plainExpectation(e.message).replace(/ \(not .*\)$/, '')))];
  return words.length ? words.join(' or ') : 'a value of one of the accepted forms';
}

/**
 * Converts zod issues into field issues that name the path, the value found and what was expected.
 * An unknown key becomes an issue at that key, with the closest of `knownKeys` (the top-level
 * fields) suggested.
 */
export function toFieldIssues(error: z.ZodError, input: unknown, prefix = '', knownKeys?: readonly string[]): FieldIssue[] {
  const join = (path: string) => (prefix && path ? `${prefix}.${path}` : prefix || path);
  return error.issues.flatMap((issue): FieldIssue[] => {
    if (issue.code === 'unrecognized_keys') {
      return issue.keys.map((key) => ({
        path: join(formatPath([...issue.path, key])),
        received: valueAt(input, [...issue.path, key]),
        expected: unknownFieldExpectation(key, issue.path.length === 0 ? knownKeys : undefined),
      }));
    }
    const path = formatPath(issue.path);
    const expected = issue.code === 'invalid_union' ? unionExpectation(issue) : plainExpectation(issue.message);
    return [{ path: join(path), received: valueAt(input, issue.path), expected }];
  });
}

/**
 * Parses `input` with `schema` at a boundary (CLI flag, file, HTTP body). Throws a ValidationError
 * naming every bad field; returns the parsed value (with defaults applied) otherwise.
 */
export function parseWith<S extends z.ZodType>(schema: S, input: unknown, subject: string, hint?: string): z.output<S> {
  const result = schema.safeParse(input);
  if (result.success) return result.data;
  const shape = (schema as { shape?: Record<string, unknown> }).shape;
  throw new ValidationError(subject, toFieldIssues(result.error, input, '', shape ? Object.keys(shape) : undefined), hint);
}

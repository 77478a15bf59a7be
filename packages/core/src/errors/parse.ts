import { z } from 'zod';
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

/** The one of `known` that `key` is a typo of (the closest, when close enough), or undefined. */
export function closestName(key: string, known: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const k of known) {
    const d = editDistance(key.toLowerCase(), k.toLowerCase());
    if (d < bestDistance) [best, bestDistance] = [k, d];
  }
  return bestDistance <= Math.max(2, Math.floor(key.length / 3)) ? best : undefined;
}

/** What an unknown field should have been: the closest known one, when it is close (a typo). */
function unknownFieldExpectation(key: string, known: readonly string[] | undefined): string {
  if (!known?.length) return 'no such field here (a typo?)';
  const meant = closestName(key, known);
  return meant !== undefined ? `no such field; did you mean "${meant}"?` : `no such field (known: ${known.join(', ')})`;
}

/** The object schema a value at this level is checked against, through optionals, defaults, pipes and unions. */
function objectSchema(schema: unknown): z.ZodObject | undefined {
  if (schema instanceof z.ZodObject) return schema;
  if (schema instanceof z.ZodOptional || schema instanceof z.ZodNullable || schema instanceof z.ZodDefault) return objectSchema(schema.unwrap());
  if (schema instanceof z.ZodPipe) return objectSchema(schema.in);
  if (schema instanceof z.ZodUnion) {
    for (const option of schema.options) {
      const found = objectSchema(option);
      if (found) return found;
    }
  }
  return undefined;
}

/** The fields known at `path` of `schema`, so an unknown key at any depth gets its own level's suggestion. */
function knownKeysAt(schema: z.ZodType, path: readonly PropertyKey[]): string[] | undefined {
  let cur = objectSchema(schema);
  for (const key of path) {
    if (!cur || typeof key !== 'string') return undefined;
    cur = objectSchema(cur.shape[key]);
  }
  return cur ? Object.keys(cur.shape) : undefined;
}

/**
 * A failed union reports every option's issues. Where the value was clearly meant for one option (an
 * object for `{ value, source, confidence }`, not a number: the only option whose type matched), that
 * option's issues are the useful ones; paths are made absolute.
 */
function meantIssues(issues: readonly z.core.$ZodIssue[], base: readonly PropertyKey[]): z.core.$ZodIssue[] {
  return issues.flatMap((issue): z.core.$ZodIssue[] => {
    const path = [...base, ...issue.path];
    if (issue.code === 'invalid_union') {
      const meant = issue.errors.filter((branch) => !branch.some((i) => i.code === 'invalid_type' && i.path.length === 0));
      if (meant.length === 1) return meantIssues(meant[0]!, path);
    }
    return [{ ...issue, path } as z.core.$ZodIssue];
  });
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
  // `received` may be -Infinity (a YAML `-.inf`), which \w+ alone would miss and leave zod's sentence.
  let m = /^Invalid input: expected (\w+), received (-?\w+)$/.exec(message);
  if (m) {
    const [, want, got] = m as unknown as [string, string, string];
    if (got === 'undefined') return noun(want); // after "got nothing"
    if (want === 'int' && got === 'number') return 'a whole number';
    // zod refuses NaN and ±Infinity as "not a number"; they are numbers to a reader, just not finite ones.
    if ((want === 'number' || want === 'int') && /^(NaN|-?Infinity)$/.test(got)) return 'a finite number';
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

/**
 * For a value outside a list of choices (an enum: a policy, a dtype, a router), the choice it is a
 * typo of: `--policy mog` reads "did you mean "moge"?" at the end of the list.
 */
function choiceSuggestion(issue: z.core.$ZodIssue, received: unknown): string {
  if (issue.code !== 'invalid_value' || typeof received !== 'string') return '';
  const choices = issue.values.filter((v): v is string => typeof v === 'string');
  // Two letters are within an edit or two of any other two ("tp" of "dp"): a guess, not a typo.
  const meant = choices.length > 1 && received.length > 2 ? closestName(received, choices) : undefined;
  return meant !== undefined && meant !== received ? `; did you mean "${meant}"?` : '';
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
 * An unknown key becomes an issue at that key with the closest known field suggested: from `known`
 * when it is the schema (at any depth), or a list of the top-level fields.
 */
export function toFieldIssues(error: z.ZodError, input: unknown, prefix = '', known?: z.ZodType | readonly string[]): FieldIssue[] {
  const join = (path: string) => (prefix && path ? `${prefix}.${path}` : prefix || path);
  const keysAt = (path: readonly PropertyKey[]) => (Array.isArray(known) ? (path.length === 0 ? (known as readonly string[]) : undefined) : known ? knownKeysAt(known as z.ZodType, path) : undefined);
  return meantIssues(error.issues, []).flatMap((issue): FieldIssue[] => {
    if (issue.code === 'unrecognized_keys') {
      return issue.keys.map((key) => ({
        path: join(formatPath([...issue.path, key])),
        received: valueAt(input, [...issue.path, key]),
        expected: unknownFieldExpectation(key, keysAt(issue.path)),
      }));
    }
    const path = formatPath(issue.path);
    const received = valueAt(input, issue.path);
    // A union's own message, when the schema gave one, says it best.
    const expected = issue.code === 'invalid_union' && issue.message === 'Invalid input' ? unionExpectation(issue) : plainExpectation(issue.message);
    return [{ path: join(path), received, expected: expected + choiceSuggestion(issue, received) }];
  });
}

/**
 * Parses `input` with `schema` at a boundary (CLI flag, file, HTTP body). Throws a ValidationError
 * naming every bad field; returns the parsed value (with defaults applied) otherwise.
 */
export function parseWith<S extends z.ZodType>(schema: S, input: unknown, subject: string, hint?: string): z.output<S> {
  const result = schema.safeParse(input);
  if (result.success) return result.data;
  throw new ValidationError(subject, toFieldIssues(result.error, input, '', schema), hint);
}

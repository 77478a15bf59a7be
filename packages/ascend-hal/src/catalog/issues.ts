import { z } from 'zod';
import { toFieldIssues, type FieldIssue } from '@moge/core';

type Issue = z.core.$ZodIssue;

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

/** The object schema a value at this level is checked against, through optionals, pipes and unions. */
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

/** The fields known at `path` of `schema` (for "did you mean …?" below the top level). */
function knownKeysAt(schema: z.ZodType, path: readonly PropertyKey[]): string[] | undefined {
  let cur: z.ZodObject | undefined = objectSchema(schema);
  for (const key of path) {
    if (!cur || typeof key !== 'string') return undefined;
    cur = objectSchema(cur.shape[key]);
  }
  return cur ? Object.keys(cur.shape) : undefined;
}

/**
 * A union that failed reports every option's issues, summed up as "Invalid input". Where the value
 * was clearly meant for one option (an object for `{ value, source, confidence }`, not a number),
 * that option's issues are the useful ones; paths are made absolute.
 */
function flatten(issues: readonly Issue[], base: readonly PropertyKey[]): Issue[] {
  return issues.flatMap((issue): Issue[] => {
    const path = [...base, ...issue.path];
    if (issue.code === 'invalid_union') {
      const meant = issue.errors.filter((branch) => !branch.some((i) => i.code === 'invalid_type' && i.path.length === 0));
      if (meant.length === 1) return flatten(meant[0]!, path);
    }
    return [{ ...issue, path } as Issue];
  });
}

/**
 * Field issues for a catalog object (node, chip, cluster file), named under `prefix`: an unknown
 * field at any depth comes with the closest known field of its own level (`node.interNode.bandwith:
 * … did you mean "bandwidth"?`), and a value of the wrong kind says what was expected.
 */
export function catalogIssues(error: z.ZodError, input: unknown, schema: z.ZodType, prefix = ''): FieldIssue[] {
  const join = (path: string) => (prefix && path ? `${prefix}.${path}` : prefix || path);
  return flatten(error.issues, []).flatMap((issue) => {
    const issues =
      issue.code === 'unrecognized_keys'
        ? // Re-rooted at the object that has the unknown key, so that its own fields are suggested.
          toFieldIssues(new z.ZodError([{ ...issue, path: [] }]), valueAt(input, issue.path), join(formatPath(issue.path)), knownKeysAt(schema, issue.path))
        : toFieldIssues(new z.ZodError([issue]), input, prefix);
    return issues.map((i) => ({ ...i, expected: i.expected.replace(/^a (?=[aeiou])/, 'an ') }));
  });
}

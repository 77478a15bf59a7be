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

/** Converts zod issues into field issues that name the path, the value found and what was expected. */
export function toFieldIssues(error: z.ZodError, input: unknown, prefix = ''): FieldIssue[] {
  return error.issues.map((issue) => {
    const path = formatPath(issue.path);
    return {
      path: prefix && path ? `${prefix}.${path}` : prefix || path,
      received: valueAt(input, issue.path),
      expected: issue.message,
    };
  });
}

/**
 * Parses `input` with `schema` at a boundary (CLI flag, file, HTTP body). Throws a ValidationError
 * naming every bad field; returns the parsed value (with defaults applied) otherwise.
 */
export function parseWith<S extends z.ZodType>(schema: S, input: unknown, subject: string, hint?: string): z.output<S> {
  const result = schema.safeParse(input);
  if (result.success) return result.data;
  throw new ValidationError(subject, toFieldIssues(result.error, input), hint);
}

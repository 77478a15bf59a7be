/** Base class of every error moge throws on purpose; `code` is stable for programs, `message` is for people. */
export class MogeError extends Error {
  readonly code: string;
  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
  }
}

/** One problem with one field of an input: where it is, what was there, what was expected. */
export interface FieldIssue {
  /** Dotted path of the field, e.g. `plan.tp` or `layers[3].experts`. */
  path: string;
  /** The value that was found (undefined when missing). */
  received?: unknown;
  /** What would have been accepted, in words. */
  expected: string;
}

function describeValue(value: unknown): string {
  if (value === undefined) return 'nothing';
  // JSON would print Infinity and NaN as null.
  if (typeof value === 'number' && !Number.isFinite(value)) return String(value);
  let text: string | undefined;
  try {
    text = JSON.stringify(value);
  } catch {
    // Nested past the stack's depth (or cyclic): say what it is rather than fail describing it.
    return Array.isArray(value) ? 'a (deeply nested) array' : `a (deeply nested) ${typeof value}`;
  }
  if (text === undefined) return String(value);
  return text.length > 60 ? `${text.slice(0, 57)}...` : text;
}

/**
 * The first `max` issues, then one line (`summary`) for the rest: input with a problem in every one
 * of thousands of places (rows of a batch, tensors of another model's checkpoint) would bury the
 * first lines, which show the cause, under thousands more.
 */
export function capIssues(issues: FieldIssue[], max: number, summary: (rest: number, total: number) => FieldIssue): FieldIssue[] {
  if (issues.length <= max) return issues;
  return [...issues.slice(0, max), summary(issues.length - max, issues.length)];
}

/** Bad input: names every field at fault, the value found and what was expected. */
export class ValidationError extends MogeError {
  readonly issues: FieldIssue[];
  readonly subject: string;
  constructor(subject: string, issues: FieldIssue[], hint?: string) {
    const lines = issues.map(
      (i) => `  - ${i.path || '(root)'}: got ${describeValue(i.received)}, expected ${i.expected}`,
    );
    super('E_VALIDATION', `invalid ${subject}:\n${lines.join('\n')}${hint ? `\n${hint}` : ''}`);
    this.issues = issues;
    this.subject = subject;
  }
}

/** A file that exists but cannot be used (truncated, corrupt, wrong shape). */
export class FileFormatError extends MogeError {
  readonly file: string;
  constructor(file: string, message: string, options?: { cause?: unknown }) {
    super('E_FILE_FORMAT', `${file}: ${message}`, options);
    this.file = file;
  }
}

/** A request the inputs make impossible (e.g. a plan that needs more devices than the cluster has). */
export class InfeasibleError extends MogeError {
  constructor(message: string) {
    super('E_INFEASIBLE', message);
  }
}

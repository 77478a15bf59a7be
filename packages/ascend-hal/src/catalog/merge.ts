/**
 * Overrides in a cluster file are merged onto a preset. A sourced number is replaced as a whole,
 * never merged field by field: keeping the preset's `source` next to a user's new `value` would
 * credit the user's number to the datasheet.
 */
function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function isSourced(v: unknown): boolean {
  return isRecord(v) && typeof v.value === 'number' && typeof v.source === 'string' && typeof v.confidence === 'string';
}

export function mergeOverrides(base: unknown, override: unknown, where: string): unknown {
  if (override === undefined) return base;
  if (isSourced(base)) {
    if (typeof override === 'number') return { value: override, source: `override in ${where}`, confidence: 'assumed' };
    // An object without its own provenance gets the override's, not the preset's.
    if (isRecord(override)) return { source: `override in ${where}`, confidence: 'assumed', ...override };
    return override;
  }
  if (isRecord(base) && isRecord(override)) {
    const out: Record<string, unknown> = { ...base };
    for (const [key, value] of Object.entries(override)) out[key] = mergeOverrides(base[key], value, where);
    return out;
  }
  return override;
}

/** Freezes a preset so that callers cannot change the catalog under everyone else's feet. */
export function deepFreeze<T>(value: T): T {
  if (isRecord(value) || Array.isArray(value)) {
    for (const v of Object.values(value as object)) deepFreeze(v);
    Object.freeze(value);
  }
  return value;
}

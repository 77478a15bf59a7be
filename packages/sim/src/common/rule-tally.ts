/**
 * Tallies of the combinations each rule of a search space removed first, kept in a Map by rule, and
 * their report in the order the search checks the rules (the last entry removed all that the earlier
 * ones had left). One pair of helpers for the training plan space and the inference layout space.
 */

/** Charges `rule` (when there is one) with `n` combinations; true when a rule was charged. */
export function chargeRule<R extends string>(tally: Map<R, number>, rule: R | undefined, n: number): boolean {
  if (rule === undefined) return false;
  tally.set(rule, (tally.get(rule) ?? 0) + n);
  return true;
}

/** The rules of `tally` that removed anything, in the order of `rules` (what each requires, in words). */
export function rulesThatEliminated<R extends string>(tally: ReadonlyMap<R, number>, rules: Record<R, string>): { rule: R; requires: string; combinations: number }[] {
  return (Object.keys(rules) as R[]).filter((rule) => tally.has(rule)).map((rule) => ({ rule, requires: rules[rule], combinations: tally.get(rule)! }));
}

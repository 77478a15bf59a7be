/** Characters bash takes literally in a word: no expansion, splitting, globbing or brace expansion. */
const PLAIN = /^[\w@%+=:,./-]+$/;

/**
 * A literal string as one bash word: as is when plain, else single-quoted, so nothing in it expands
 * (a path under "my runs/" stays one argument, `{a,b}` is not brace-expanded, `$HOME` stays text).
 */
export function shellWord(s: string): string {
  return PLAIN.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}

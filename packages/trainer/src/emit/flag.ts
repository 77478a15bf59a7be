/** One command-line flag as argv words: `--name` alone, or `--name value`. */
export const flag = (name: string, value?: string | number): string[] => (value === undefined ? [name] : [name, String(value)]);

import type { Command } from 'commander';

/**
 * Each command area registers itself here, one line per area. A registration adds a subcommand tree
 * to the program and nothing else.
 */
const registrations: ((program: Command) => void)[] = [];

export function registerAll(program: Command): void {
  for (const register of registrations) register(program);
}

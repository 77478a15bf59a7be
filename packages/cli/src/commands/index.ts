import type { Command } from 'commander';
import { registerEp } from './ep';
import { registerHw } from './hw';
import { registerModel } from './model';
import { registerMem } from './mem';
import { registerSim } from './sim';
import { registerRoute } from './route';
import { registerTrain } from './train';

/**
 * Each command area registers itself here, one line per area. A registration adds a subcommand tree
 * to the program and nothing else.
 */
const registrations: ((program: Command) => void)[] = [registerEp, registerModel, registerHw, registerSim, registerMem, registerRoute, registerTrain];

export function registerAll(program: Command): void {
  for (const register of registrations) register(program);
}

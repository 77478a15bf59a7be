import { Command } from 'commander';
import { registerAll } from './commands/index';

export function buildProgram(): Command {
  const program = new Command('moge')
    .description('MoGE models and the machinery to plan, train and serve them on Ascend NPU clusters')
    .version('0.1.0')
    .showHelpAfterError()
    .exitOverride();
  registerAll(program);
  return program;
}

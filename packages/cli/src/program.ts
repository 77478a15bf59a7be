import { Command } from 'commander';
import { version } from '../package.json';
import { registerAll } from './commands/index';
import { refuseRepeatedOptions } from './util/repeated-options';

export function buildProgram(): Command {
  const program = new Command('moge')
    .description('MoGE models and the machinery to plan, train and serve them on Ascend NPU clusters')
    // From package.json, which `changeset version` bumps: a literal here would go stale on the first release.
    .version(version)
    .showHelpAfterError()
    .exitOverride();
  registerAll(program);
  refuseRepeatedOptions(program);
  return program;
}

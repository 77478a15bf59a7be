import { buildProgram } from './program';
import { reportError } from './util/errors';

/** Runs the CLI with `argv` (without node and script); resolves to the exit code. */
export async function main(argv: string[]): Promise<number> {
  const program = buildProgram();
  try {
    await program.parseAsync(argv, { from: 'user' });
    return 0;
  } catch (e) {
    if (e instanceof Error && 'exitCode' in e && (e as { code?: string }).code === 'commander.helpDisplayed') return 0;
    if (e instanceof Error && 'exitCode' in e && (e as { code?: string }).code === 'commander.version') return 0;
    // `moge help [command]` ends with 'commander.help' and exit code 0: help was asked for, as with
    // --help. A bare `moge` or `moge hw` (no subcommand) ends the same way with exit code 1: a usage
    // error, so it keeps the usage status 2 that reportError gives every commander error.
    if (e instanceof Error && (e as { code?: string }).code === 'commander.help' && (e as { exitCode?: number }).exitCode === 0) return 0;
    return reportError(e);
  }
}

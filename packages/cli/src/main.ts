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
    return reportError(e);
  }
}

import type { Command } from 'commander';

/**
 * Makes every command refuse an option that takes a value and is given twice (`--ranks 4 --ranks 8`).
 * Commander keeps the last one silently, so a flag repeated by a script that appends to a base
 * command, or a typo'd pair, would run with whichever came last while the user read the first. A
 * usage error like commander's own (status 2). Variadic options (`--data a --data b`) collect their
 * values on purpose, and switches (`--json`) mean the same however often given: both are left alone.
 */
export function refuseRepeatedOptions(cmd: Command): void {
  for (const option of cmd.options) {
    if (option.variadic || !(option.required || option.optional)) continue;
    const given: unknown[] = [];
    // Registered after commander's own listener, so this runs once the value is stored.
    cmd.on(`option:${option.name()}`, (value: unknown) => {
      given.push(value);
      if (given.length === 2) {
        cmd.error(`error: option '${option.flags}' given twice (${given.map((v) => JSON.stringify(v)).join(', then ')}); give it once`, {
          exitCode: 2,
          code: 'commander.optionRepeated',
        });
      }
    });
  }
  for (const sub of cmd.commands) refuseRepeatedOptions(sub);
}

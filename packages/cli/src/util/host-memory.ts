import { totalmem } from 'node:os';
import { formatBytes, MogeError, type MoeArch } from '@moge/core';
import { paramSpecs } from '@moge/model';

/** Parameters the model code allocates for `arch` (MTP modules included): what init and training hold. */
export function allocatedParameters(arch: MoeArch): number {
  return paramSpecs(arch).reduce((sum, s) => sum + s.shape.reduce((a, b) => a * b, 1), 0);
}

/**
 * Refuses, before anything is allocated, a model this machine cannot hold: `bytesPerParameter` is what
 * the command keeps per parameter at the least. A production preset (pangu-pro-moe: 72 B parameters)
 * would otherwise allocate until the process dies — or until the system's out-of-memory killer picks a
 * process, perhaps another user's. `subject` names the flag and value; `purpose` says what needs it;
 * `instead` what to do.
 */
export function assertFitsHostMemory(arch: MoeArch, bytesPerParameter: number, subject: string, purpose: string, instead: string): void {
  const params = allocatedParameters(arch);
  const needed = params * bytesPerParameter;
  if (needed <= totalmem()) return;
  throw new MogeError(
    'E_TOO_LARGE',
    `${subject}: ${(params / 1e9).toFixed(1)} B parameters need at least ${formatBytes(needed)} of memory ${purpose}, and this machine has ${formatBytes(totalmem())}; ${instead}`,
  );
}

/**
 * The OpenBLAS pin of the benches' PyTorch baselines. Some machines set OPENBLAS_CORETYPE (with
 * OPENBLAS_L2_SIZE) because older OpenBLAS builds misbehave on their CPUs; on this project's Zen 5
 * host the pin (Haswell) runs PyTorch's GEMMs at about half the speed of the kernels OpenBLAS 0.3.21
 * picks itself (Cooperlake): a moge-small training step in PyTorch took 2.3× as long. A baseline is
 * compared at its best, so the npm `bench` scripts unset both variables for their own command
 * (`env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE …`), both sides then run OpenBLAS's own choice, and
 * every bench prints the kernel family each side ran.
 */
import { gemmLibrary } from '@moge/ascend-hal/node';

/** ' — pinned by OPENBLAS_CORETYPE=…; …' when this process runs under the pin, else ''. */
export function pinnedNote(): string {
  const pin = process.env.OPENBLAS_CORETYPE;
  return pin
    ? ` — pinned by OPENBLAS_CORETYPE=${pin}; run through \`npm run bench\`, or with both OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE unset, for OpenBLAS's own choice`
    : '';
}

/** Which OpenBLAS kernel family each side of a PyTorch comparison ran, and the pin if any. */
export interface OpenBlasSetting {
  ours: string;
  torch: string;
  pinned: string | null;
}

/** Our side's family from `gemmLibrary()` (or why OpenBLAS is not in use), beside PyTorch's `torchCore`. */
export function openBlasSetting(torchCore: string): OpenBlasSetting {
  const gemm = gemmLibrary();
  return { ours: gemm.library === 'openblas' ? gemm.coreName : `none (${gemm.reason})`, torch: torchCore, pinned: process.env.OPENBLAS_CORETYPE ?? null };
}

/** The line a bench prints about it. */
export function openBlasLine(s: OpenBlasSetting): string {
  return `OpenBLAS kernels: ours ${s.ours}, PyTorch ${s.torch}${pinnedNote()}`;
}

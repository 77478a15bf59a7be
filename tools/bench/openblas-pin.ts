/**
 * The OpenBLAS pin of the benches' PyTorch baselines. Some machines set OPENBLAS_CORETYPE (with
 * OPENBLAS_L2_SIZE) because older OpenBLAS builds misbehave on their CPUs; on this project's Zen 5
 * host the pin (Haswell) runs PyTorch's GEMMs at about half the speed of the kernels OpenBLAS 0.3.21
 * picks itself (Cooperlake): a moge-small training step in PyTorch took 2.3× as long. A baseline is
 * compared at its best, so the npm `bench` scripts unset both variables for their own command
 * (`env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE …`), both sides then run OpenBLAS's own choice, and
 * every bench prints the kernel family each side ran.
 */

/** ' — pinned by OPENBLAS_CORETYPE=…; …' when this process runs under the pin, else ''. */
export function pinnedNote(): string {
  const pin = process.env.OPENBLAS_CORETYPE;
  return pin
    ? ` — pinned by OPENBLAS_CORETYPE=${pin}; run through \`npm run bench\`, or with both OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE unset, for OpenBLAS's own choice`
    : '';
}

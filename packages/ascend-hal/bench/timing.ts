/**
 * Timing for benchmarks on a shared machine: variants are measured in interleaved rounds (A B C A B C
 * …) so that load from other processes hits all of them alike, and the median round is reported.
 */
export interface Variant {
  name: string;
  /** One call of the operation; may be async (the public onnxruntime API is). */
  call(): unknown;
}

export interface Timing {
  name: string;
  /** Median seconds per call over the rounds. */
  medianS: number;
  /** Fastest and slowest round, seconds per call: the spread other load caused. */
  minS: number;
  maxS: number;
  /** Seconds per call of every round, in order (round r of every variant ran back to back). */
  roundsS: number[];
}

export function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

/**
 * Ratio of two variants measured by `measureInterleaved`, as the median of per-round ratios: rounds
 * ran back to back, so each ratio compares the two under the same momentary load.
 */
export function pairedRatio(a: Timing, b: Timing): number {
  return median(a.roundsS.map((x, r) => x / b.roundsS[r]!));
}

/** Seconds per call that `a` adds over `b`: the median of per-round differences (same pairing as pairedRatio). */
export function pairedDifference(a: Timing, b: Timing): number {
  return median(a.roundsS.map((x, r) => x - b.roundsS[r]!));
}

export async function measureInterleaved(
  variants: readonly Variant[],
  callsPerRound: number,
  rounds: number,
  options: { warmUp?: boolean } = {},
): Promise<Timing[]> {
  const perCall = variants.map(() => [] as number[]);
  if (options.warmUp ?? true) {
    for (const v of variants) for (let i = 0; i < callsPerRound; i++) await v.call(); // sessions, JIT, thread pool
  }
  for (let r = 0; r < rounds; r++) {
    // Odd rounds run the variants in reverse, so no variant always goes first (cold caches, a
    // scheduler tick landing at the start of a round).
    for (let i = 0; i < variants.length; i++) {
      const j = r % 2 === 0 ? i : variants.length - 1 - i;
      const v = variants[j]!;
      const t0 = performance.now();
      for (let i = 0; i < callsPerRound; i++) await v.call();
      perCall[j]!.push((performance.now() - t0) / 1e3 / callsPerRound);
    }
  }
  return variants.map((v, j) => ({
    name: v.name,
    medianS: median(perCall[j]!),
    minS: Math.min(...perCall[j]!),
    maxS: Math.max(...perCall[j]!),
    roundsS: perCall[j]!,
  }));
}

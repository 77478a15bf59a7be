import { ValidationError } from '@moge/core';

/**
 * How `--workers n` splits the work. `dp`: every worker holds every expert and runs whole
 * micro-batches; gradients are all-reduced. `ep`: the same data parallelism for the dense part, but
 * each worker owns the experts of M/n MoGE groups and tokens travel to them by all-to-all.
 */
export type ParallelMode = 'dp' | 'ep';

/**
 * The mode a run uses: as requested, else `ep` when the workers divide the expert groups (each owns
 * whole groups), else `dp`. One worker is always `dp` (with one rank both are the same computation).
 */
export function resolveParallelMode(requested: ParallelMode | undefined, workers: number, expertGroups: number): ParallelMode {
  if (workers === 1) return 'dp';
  const fits = expertGroups % workers === 0;
  if (requested === 'ep' && !fits) {
    throw new ValidationError('train config', [
      { path: 'parallel', received: 'ep', expected: `--workers (${workers}) dividing the model's ${expertGroups} expert groups for expert parallelism, or --parallel dp` },
    ]);
  }
  return requested ?? (fits ? 'ep' : 'dp');
}

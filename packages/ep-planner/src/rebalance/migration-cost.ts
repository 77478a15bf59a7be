import { estimateCollective, type Cluster } from '@moge/ascend-hal';
import type { RankLayout } from '../dispatch/replica-choice';
import type { LayerMigration } from './migration';

/**
 * Time to carry out a migration on the cluster: every rank sends its expert copies to their new
 * ranks at once, an all-to-allv with the per-pair byte matrix, timed by the ascend-hal collective
 * model. Ranks × ranks numbers: meant for EP groups up to a few thousand ranks.
 */
export function estimateMigrationTime(cluster: Cluster, migration: LayerMigration, layout: RankLayout): number {
  if (migration.bytes === 0) return 0;
  const { numRanks, ranksPerNode } = layout;
  const matrix = Array.from({ length: numRanks }, () => new Array<number>(numRanks).fill(0));
  for (const t of migration.transfers) matrix[t.fromRank]![t.toRank]! += t.bytes;
  return estimateCollective(cluster, { op: 'all-to-allv', ranks: numRanks, ranksPerNode, matrix }).timeS;
}

import { parseWith, ParallelPlanSchema } from '@moge/core';
import { parseClusterSpec } from '@moge/ascend-hal';
import { getPreset } from '@moge/model';
import { getSimProfile, type SimProfile } from '../common/training-profile';
import { plannedMemoryPolicy } from './memory-policy';
import { searchTraining } from './search';
import { simulateTraining, type TrainingSimResult } from './simulate';
import { PRO_T1_AFTER, PRO_T1_BEFORE, PUBLISHED, ULT_T0, ULT_T1, type TrainingCase } from './validation-cases';

/**
 * One line of `moge sim validate`: a prediction next to the published figure. Shared by the training
 * and the inference simulators (`validateInference()` returns the same rows).
 */
export interface ValidationRow {
  id: string;
  system: string;
  metric: string;
  published: number;
  predicted: number;
  /** Relative error (predicted / published − 1) for absolute figures; difference in points for gains. */
  error: number;
  /** `rank`: `predicted` is a position in a ranking, `published` the worst position that meets the goal. */
  errorKind: 'relative' | 'points' | 'rank';
  /** What the project aims for, in the same unit as `error` (|error| ≤ goal). */
  goal: number;
  withinGoal: boolean;
  source: string;
  /** Conditions the source does not state, and what the case assumes instead. */
  assumed: string[];
  /** Unit of `published`/`predicted` for display ('%' for fractions shown as percent, 's', 'tokens/s', …); inferred from `metric` when absent. */
  unit?: string;
}

export interface ValidateOptions {
  /** Simulator profile to validate (default: the chip's calibrated one). */
  profile?: string;
  /** A profile object (a calibration script trying a fit). */
  profileData?: SimProfile;
  /** Also run the ULT-S1 plan search (a few seconds); default true. */
  search?: boolean;
}

/** Plans of the ULT-S1 search simulated event by event; a rank beyond them is reported as this + 1. */
const SEARCH_SURVIVORS = 200;

/**
 * ULT-S1: where the search puts Pangu Ultra's published layout (TP8 PP16 VPP2 EP4 = ep 32 here, any
 * micro-batch size and recompute) among every plan for that model on 6K Atlas 800T A2 NPUs, with the
 * conditions of ULT-T1. Goal: top 5.
 */
export function searchRankRow(options: ValidateOptions = {}): ValidationRow {
  const plan = ULT_T1.plan;
  const profile = options.profileData?.name ?? options.profile;
  const r = searchTraining({
    archs: [getPreset(ULT_T1.arch)],
    cluster: parseClusterSpec(ULT_T1.cluster),
    globalBatchSize: plan.globalBatchSize!,
    seqLength: plan.seqLength!,
    options: { ...ULT_T1.options, ...(profile && !options.profileData ? { profile } : {}) },
    top: SEARCH_SURVIVORS,
    survivors: SEARCH_SURVIVORS,
    ...(options.profileData ? { profileData: options.profileData } : {}),
  });
  const index = r.top.findIndex((e) => e.plan.tp === plan.tp && e.plan.pp === plan.pp && e.plan.vpp === plan.vpp && e.plan.ep === plan.ep && e.plan.cp === 1);
  const rank = index >= 0 ? index + 1 : SEARCH_SURVIVORS + 1;
  const best = r.top[0]?.plan;
  return {
    id: 'ULT-S1',
    system: 'Pangu Ultra MoE 718B, 6K Atlas 800T A2: search rank of TP8 PP16 VPP2 EP4',
    metric: 'search rank',
    published: 5,
    predicted: rank,
    error: rank - 5,
    errorKind: 'rank',
    goal: 0,
    withinGoal: rank <= 5,
    source: PUBLISHED['ULT-T1'].source,
    assumed: [
      ...ULT_T1.assumed,
      `default plan space; rank among the ${SEARCH_SURVIVORS} plans simulated event by event (${SEARCH_SURVIVORS + 1} = not among them)`,
      best ? `search's best: TP${best.tp} CP${best.cp} PP${best.pp} VPP${best.vpp} EP${best.ep} mbs${best.microBatchSize}` : 'no plan fits',
    ],
    unit: 'rank',
  };
}

export function runCase(c: TrainingCase, options: ValidateOptions = {}): TrainingSimResult {
  const arch = getPreset(c.arch);
  const cluster = parseClusterSpec(c.cluster);
  const simOptions = { ...c.options, ...(options.profile ? { profile: options.profile } : {}) };
  const profileData = options.profileData ?? (options.profile ? getSimProfile(options.profile) : undefined);
  let plan = parseWith(ParallelPlanSchema, c.plan, `plan of ${c.id}`);
  if (c.memoryPolicy === 'planner') plan = plannedMemoryPolicy(arch, cluster, plan, simOptions, profileData);
  return simulateTraining({ arch, cluster, plan, options: simOptions, ...(options.profileData ? { profile: options.profileData } : {}) });
}

function absoluteRow(id: string, system: string, metric: string, published: number, predicted: number, source: string, assumed: string[]): ValidationRow {
  const error = predicted / published - 1;
  return { id, system, metric, published, predicted, error, errorKind: 'relative', goal: 0.1, withinGoal: Math.abs(error) <= 0.1, source, assumed };
}

/**
 * Predicts every training case of targets.md and sets it beside the published figure: ULT-T1 and
 * ULT-T0 (tokens/s and MFU, goal ±10 %) and the PRO-T1 relative MFU gain (goal ±10 points). The
 * rows are plain data so other simulators (inference) can append theirs.
 */
export function validateTraining(options: ValidateOptions = {}): ValidationRow[] {
  const rows: ValidationRow[] = [];
  for (const [c, system] of [
    [ULT_T1, 'Pangu Ultra MoE 718B, 6K Atlas 800T A2, TP8 PP16 VPP2 EP4, all optimisations'],
    [ULT_T0, 'Pangu Ultra MoE 718B, 4K Atlas 800T A2, before optimisations'],
  ] as const) {
    const r = runCase(c, options);
    const pub = PUBLISHED[c.id as 'ULT-T1' | 'ULT-T0'];
    rows.push(absoluteRow(c.id, system, 'tokens/s', pub.tokensPerSecond, r.tokensPerSecond, pub.source, c.assumed));
    rows.push(absoluteRow(c.id, system, 'MFU', pub.mfu, r.mfu, pub.source, c.assumed));
  }
  const before = runCase(PRO_T1_BEFORE, options);
  const after = runCase(PRO_T1_AFTER, options);
  const gain = after.mfu / before.mfu - 1;
  const pub = PUBLISHED['PRO-T1'];
  const error = (gain - pub.relativeMfuGain) * 100;
  rows.push({
    id: 'PRO-T1',
    system: 'Pangu Pro MoE 72B, ~4K Atlas 800T A2: TP1/EP8/CP8/PP6/VPP4 → TP8/EP2/CP1/PP5/VPP5',
    metric: 'relative MFU gain',
    published: pub.relativeMfuGain,
    predicted: gain,
    error,
    errorKind: 'points',
    goal: 10,
    withinGoal: Math.abs(error) <= 10,
    source: pub.source,
    assumed: PRO_T1_AFTER.assumed,
  });
  if (options.search ?? true) rows.push(searchRankRow(options));
  return rows;
}

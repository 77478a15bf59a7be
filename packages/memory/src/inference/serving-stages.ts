import { isMoeLayer, ValidationError, type FieldIssue, type MoeArch, type ParallelPlan } from '@moge/core';
import { layerSlots, servingPpIssues } from '../training/stage-layout';

/**
 * vLLM's default pipeline split (`get_pp_indices`, vllm/distributed/utils.py): every stage gets
 * ⌊numLayers / pp⌋ layers and the remainder goes one each to the stages counted back from the
 * second-to-last (`for i in range(2, remaining + 2): partitions[-i] += 1`), since the last stage also
 * holds the final norm and the head. When pp divides the layers this is Megatron-LM's even split.
 */
export function vllmLayerPartition(numLayers: number, pp: number): number[] {
  const partitions = new Array<number>(pp).fill(Math.floor(numLayers / pp));
  const remaining = numLayers % pp;
  for (let i = 2; i < remaining + 2; i++) partitions[pp - i]! += 1;
  return partitions;
}

/** What one pipeline stage of a serving plan holds. */
export interface ServingStage {
  stage: number;
  /** The model layers it runs, in order: contiguous, except under a vpp > 1 (interleaved training) layout. */
  layers: number[];
  /** Its transformer layers of each kind, and the no-op padding slots of a Megatron layout (they cost nothing). */
  denseLayers: number;
  moeLayers: number;
  noopLayers: number;
  /** The input embedding (first stage), the final norm + output head (last stage). */
  embedding: boolean;
  head: boolean;
  /** The MTP modules (last stage, next to the head they share), when the arch has them. */
  mtp: boolean;
}

export interface ServingStageOptions {
  /** Layers of each stage, first to last (vLLM's VLLM_PP_LAYER_PARTITION); default vLLM's split. */
  ppLayerPartition?: readonly number[] | undefined;
}

/**
 * Why an explicit partition cannot serve this plan, each issue naming `field` (the caller's path to
 * it) and the fix. Positivity is checked here too, for callers that did not go through a schema.
 */
export function ppLayerPartitionIssues(arch: MoeArch, plan: ParallelPlan, partition: readonly number[], field: string): FieldIssue[] {
  const issues: FieldIssue[] = [];
  const example = vllmLayerPartition(arch.numLayers, plan.pp).join(', ');
  if (plan.noopLayers > 0) {
    issues.push({
      path: field,
      received: partition,
      expected: `no partition with plan.noopLayers ${plan.noopLayers} (the no-op padding already fixes Megatron's split): give one of the two, e.g. plan.noopLayers 0`,
    });
  }
  if (plan.vpp !== 1) issues.push({ path: field, received: partition, expected: `no partition with plan.vpp ${plan.vpp}: serving runs one contiguous run of layers per stage; set plan.vpp 1` });
  if (partition.length !== plan.pp) {
    issues.push({ path: field, received: partition, expected: `plan.pp (${plan.pp}) entries, one per stage, e.g. [${example}]` });
  }
  const bad = partition.findIndex((n) => !Number.isInteger(n) || n <= 0);
  if (bad >= 0) issues.push({ path: `${field}.${bad}`, received: partition[bad], expected: 'a positive whole number of layers: every stage runs at least one layer' });
  const sum = partition.reduce((a, n) => a + n, 0);
  if (sum !== arch.numLayers) {
    issues.push({ path: field, received: partition, expected: `entries summing to numLayers (${arch.numLayers}), not ${sum}; e.g. [${example}]` });
  }
  return issues;
}

/**
 * What each pipeline stage of a serving plan holds: its layers, the embedding on the first stage,
 * the head and the MTP modules on the last. One split for memory's per-stage estimate and the
 * inference simulator, so a stage's memory and its time describe the same device.
 *
 * The split: `ppLayerPartition` when given (validated: plan.pp positive entries summing to
 * numLayers); else Megatron-LM's layout when the plan states one — `noopLayers` > 0 (serving engines
 * have no no-op layers, so padding slots run nothing: they only say where a Megatron-trained layout
 * put the real layers, the split VLLM_PP_LAYER_PARTITION would be given to reproduce it) or vpp > 1
 * (interleaved chunks, a training layout); else vLLM's default split (`vllmLayerPartition`), which is
 * Megatron's whenever pp divides the layers. Throws a ValidationError naming `field` (the caller's
 * path to the partition) or `plan.pp` for a split that cannot be made.
 */
export function servingStages(arch: MoeArch, plan: ParallelPlan, options: ServingStageOptions = {}, field = 'ppLayerPartition'): ServingStage[] {
  const last = plan.pp - 1;
  const stages: ServingStage[] = Array.from({ length: plan.pp }, (_, stage) => ({
    stage,
    layers: [],
    denseLayers: 0,
    moeLayers: 0,
    noopLayers: 0,
    embedding: stage === 0,
    head: stage === last,
    mtp: stage === last && arch.mtpDepth > 0,
  }));
  const place = (layer: number, stage: number) => {
    const s = stages[stage]!;
    if (layer >= arch.numLayers) s.noopLayers++;
    else {
      s.layers.push(layer);
      if (isMoeLayer(arch, layer)) s.moeLayers++;
      else s.denseLayers++;
    }
  };
  const partition = options.ppLayerPartition;
  if (partition === undefined && (plan.noopLayers > 0 || plan.vpp !== 1)) {
    // Megatron's layout (checkPlanFitsArch has checked that its slots divide over pp × vpp).
    for (const slot of layerSlots(arch, plan)) place(slot.layer, slot.stage);
    return stages;
  }
  if (partition !== undefined) {
    const issues = ppLayerPartitionIssues(arch, plan, partition, field);
    if (issues.length > 0) throw new ValidationError('serving layer partition', issues);
  } else if (servingPpIssues(arch, plan).length > 0) {
    throw new ValidationError('plan for this arch', servingPpIssues(arch, plan));
  }
  const counts = partition ?? vllmLayerPartition(arch.numLayers, plan.pp);
  let layer = 0;
  counts.forEach((n, stage) => {
    for (let i = 0; i < n; i++) place(layer++, stage);
  });
  return stages;
}

import { isMoeLayer, type MoeArch, type ParallelPlan } from '@moge/core';
import { layerSlots } from '@moge/memory';

/** What one pipeline stage of a serving plan holds. */
export interface ServingStageLayers {
  stage: number;
  /** Transformer layers of each kind, and the no-op padding slots (they cost nothing). */
  denseLayers: number;
  moeLayers: number;
  noopLayers: number;
  /** The input embedding (first stage), the final norm + output head and any MTP module (last stage). */
  embedding: boolean;
  head: boolean;
  mtp: boolean;
}

/**
 * The layers of each pipeline stage, as @moge/memory splits them (so the time of a stage and its
 * memory describe the same device): its `layerSlots` (Megatron-LM's contiguous equal runs of
 * numLayers + noopLayers slots, the no-op padding last), the embedding on the first stage and the
 * head and MTP on the last — memory's stage weights (`stageParams`, not exported) put them there,
 * which pipeline-stages.test.ts pins against memory's per-stage estimate. vLLM's default partition
 * (`get_pp_indices`) is the same contiguous even split when the layers divide over the stages.
 * Serving plans have vpp = 1 (checked by the caller), so chunk = 0 throughout.
 */
export function servingStageLayers(arch: MoeArch, plan: ParallelPlan): ServingStageLayers[] {
  const last = plan.pp - 1;
  const stages: ServingStageLayers[] = Array.from({ length: plan.pp }, (_, stage) => ({
    stage,
    denseLayers: 0,
    moeLayers: 0,
    noopLayers: 0,
    embedding: stage === 0,
    head: stage === last,
    mtp: stage === last,
  }));
  for (const slot of layerSlots(arch, plan)) {
    const s = stages[slot.stage]!;
    if (slot.layer >= arch.numLayers) s.noopLayers++;
    else if (isMoeLayer(arch, slot.layer)) s.moeLayers++;
    else s.denseLayers++;
  }
  return stages;
}

/**
 * True when some rank of stage `from` sends to its counterpart of stage `to` over the scale-out
 * network. Ranks run tensor-parallel innermost, then data-parallel, then pipeline (vLLM's and
 * Megatron's order), so stage s holds ranks [s·stride, (s+1)·stride) with stride = tp × dp, and a
 * rank's counterpart is (to − from)·stride ranks away: on another node whenever tp × dp fills a node,
 * and for a smaller stride when the two stages' ranks straddle a node boundary.
 */
export function hopCrossesNodes(from: number, to: number, stride: number, devicesPerNode: number): boolean {
  for (let r = 0; r < stride; r++) {
    if (Math.floor((from * stride + r) / devicesPerNode) !== Math.floor((to * stride + r) / devicesPerNode)) return true;
  }
  return false;
}

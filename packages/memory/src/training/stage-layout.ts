import { ValidationError, type FieldIssue, type MoeArch, type ParallelPlan } from '@moge/core';
import { hasMoeLayers, tpSplitWidths, trainingPlanIssues, widthSplitIssues } from './plan-rules';

/** Where one layer slot (real or no-op) runs: pipeline stage and model chunk (virtual stage = chunk·pp + stage). */
export interface LayerSlot {
  layer: number;
  stage: number;
  chunk: number;
}

/**
 * Megatron-LM's layer assignment: numLayers + noopLayers slots in pp × vpp equal model chunks, virtual
 * stage v = chunk·pp + stage holding the v-th contiguous run. No-op slots (Pangu Pro MoE pads 48 layers
 * to 50) come last, so they land on the last virtual stages, next to the output head.
 */
export function layerSlots(arch: MoeArch, plan: ParallelPlan): LayerSlot[] {
  const slots = arch.numLayers + plan.noopLayers;
  const perChunk = slots / (plan.pp * plan.vpp);
  return Array.from({ length: slots }, (_, layer) => {
    const virtualStage = Math.floor(layer / perChunk);
    return { layer, stage: virtualStage % plan.pp, chunk: Math.floor(virtualStage / plan.pp) };
  });
}

/**
 * Checks that a plan can run an arch at all, before any estimate: each rule names the plan field and
 * what it needs, so a user can fix the plan from the message alone. Training adds what Megatron-LM /
 * MindSpeed refuse at start-up (sequence parallelism with MoE and TP, the rules of plan-rules.ts);
 * inference engines neither use Megatron's SP nor shard as strictly (vLLM replicates KV heads, evenly).
 */
export function checkPlanFitsArch(arch: MoeArch, plan: ParallelPlan, purpose: 'training' | 'inference' = 'training'): void {
  const issues: FieldIssue[] = [];
  const chunks = plan.pp * plan.vpp;
  const slots = arch.numLayers + plan.noopLayers;
  // Serving engines split any layer count (vLLM's get_pp_indices: servingStages); only a Megatron
  // layout — no-op padding or interleaved chunks — needs equal chunks.
  const megatronLayout = purpose === 'training' || plan.noopLayers > 0 || plan.vpp !== 1;
  if (megatronLayout && slots % chunks !== 0) {
    const pad = chunks - (slots % chunks);
    issues.push({
      path: 'plan.noopLayers',
      received: plan.noopLayers,
      expected: `numLayers + noopLayers (${arch.numLayers} + ${plan.noopLayers}) divisible by pp × vpp (${chunks}); e.g. noopLayers ${plan.noopLayers + pad}`,
    });
  }
  if (!megatronLayout) issues.push(...servingPpIssues(arch, plan));
  if (arch.numHeads % plan.tp !== 0) {
    issues.push({ path: 'plan.tp', received: plan.tp, expected: `a divisor of numHeads (${arch.numHeads})` });
  }
  if (hasMoeLayers(arch)) {
    if (arch.numExperts % plan.ep !== 0) {
      issues.push({ path: 'plan.ep', received: plan.ep, expected: `a divisor of numExperts (${arch.numExperts})` });
    }
    if (purpose === 'training' && plan.tp > 1 && !plan.sequenceParallel) {
      issues.push({
        path: 'plan.sequenceParallel',
        received: plan.sequenceParallel,
        expected: 'true when a MoE model runs with tp > 1 (Megatron-LM requires sequence parallelism for MoE with TP)',
      });
    }
  }
  if (purpose === 'training') issues.push(...trainingPlanIssues(arch, plan));
  else issues.push(...widthSplitIssues(arch, plan, tpSplitWidths(arch).filter((w) => w.field === 'denseFfnSize')));
  if (purpose === 'inference' && !servingSplitsKvHeads(arch, plan.tp)) {
    issues.push({
      path: 'plan.tp',
      received: plan.tp,
      expected: `a divisor or a multiple of numKvHeads (${arch.numKvHeads}): serving engines split the KV heads evenly over TP or replicate each on tp / numKvHeads ranks (vLLM's QKVParallelLinear asserts one or the other); e.g. tp ${largestServingTp(arch, plan.tp)}`,
    });
  }
  if (issues.length > 0) throw new ValidationError('plan for this arch', issues);
}

/** A serving split gives every stage at least one layer (an empty stage would only relay activations). */
export function servingPpIssues(arch: MoeArch, plan: ParallelPlan): FieldIssue[] {
  if (plan.pp <= arch.numLayers) return [];
  return [{ path: 'plan.pp', received: plan.pp, expected: `at most numLayers (${arch.numLayers}): every pipeline stage runs at least one layer; e.g. pp ${arch.numLayers}` }];
}

/**
 * GQA under serving TP: each rank gets numKvHeads / tp heads, or (tp ≥ numKvHeads) one head replicated on
 * tp / numKvHeads ranks. Anything else would leave ranks with unequal KV heads, which vLLM refuses.
 */
export function servingSplitsKvHeads(arch: MoeArch, tp: number): boolean {
  return arch.attention === 'mla' || arch.numKvHeads % tp === 0 || tp % arch.numKvHeads === 0;
}

/** The largest tp up to `tp` that splits the query heads and serves the KV heads evenly (1 always does). */
function largestServingTp(arch: MoeArch, tp: number): number {
  for (let d = tp; d > 1; d--) if (arch.numHeads % d === 0 && servingSplitsKvHeads(arch, d)) return d;
  return 1;
}

import { numMoeLayers, type FieldIssue, type MoeArch, type ParallelPlan, type RecomputeModule, type SwapModule } from '@moge/core';

/**
 * Shapes of a training plan that Megatron-LM / MindSpeed refuse at start-up but that a cost model
 * would happily price (fractional heads or tokens per rank). checkPlanFitsArch(…, 'training') applies
 * them, so the memory estimate, the simulator (and the plans its search enumerates with the same
 * predicates) and the launch emitters accept the same plans.
 */

/**
 * GQA: Megatron-core shards the query groups (KV heads) over TP — `TransformerConfig` requires
 * num_query_groups % tp == 0 — and, unlike vLLM, never replicates them. MLA has no query groups.
 */
export function tpSplitsKvHeads(arch: MoeArch, tp: number): boolean {
  return arch.attention === 'mla' || arch.numKvHeads % tp === 0;
}

/**
 * The FFN widths TP splits: the dense FFN (where a layer uses it) and the shared expert, both
 * column-parallel over TP in Megatron-LM, which divides their width by tp exactly (`divide`).
 */
export function tpSplitWidths(arch: MoeArch): { field: 'denseFfnSize' | 'sharedExpertFfnSize'; width: number }[] {
  const widths: { field: 'denseFfnSize' | 'sharedExpertFfnSize'; width: number }[] = [];
  if (!hasMoeLayers(arch) || arch.numDenseLayers > 0) widths.push({ field: 'denseFfnSize', width: arch.denseFfnSize });
  if (hasMoeLayers(arch) && arch.sharedExpertFfnSize > 0) widths.push({ field: 'sharedExpertFfnSize', width: arch.sharedExpertFfnSize });
  return widths;
}

/** True when tp splits every FFN width it shards (tpSplitWidths) into whole columns. */
export function tpSplitsFfn(arch: MoeArch, tp: number): boolean {
  return tpSplitWidths(arch).every((w) => w.width % tp === 0);
}

/**
 * The multiple the sequence length must be: context parallelism's causal load balance cuts each
 * sequence into 2·cp chunks (rank i holds i and 2cp−1−i), and sequence parallelism then splits a
 * rank's seqLength/cp tokens over TP (Megatron scatters along the sequence dimension and asserts it divides).
 */
export function seqLengthMultiple(plan: Pick<ParallelPlan, 'tp' | 'cp' | 'sequenceParallel'>): number {
  const cpMultiple = plan.cp > 1 ? 2 * plan.cp : 1;
  const spMultiple = plan.sequenceParallel && plan.tp > 1 ? plan.cp * plan.tp : 1;
  return lcm(cpMultiple, spMultiple);
}

/** True when the architecture has MoE layers for expert parallelism to spread. */
export function hasMoeLayers(arch: MoeArch): boolean {
  return numMoeLayers(arch) > 0;
}

/** The training-only rules above as field issues; empty when the plan can run. */
export function trainingPlanIssues(arch: MoeArch, plan: ParallelPlan): FieldIssue[] {
  const issues: FieldIssue[] = [];
  if (!tpSplitsKvHeads(arch, plan.tp)) {
    issues.push({
      path: 'plan.tp',
      received: plan.tp,
      expected: `a divisor of numKvHeads (${arch.numKvHeads}): Megatron-LM shards the KV heads over TP and does not replicate them; e.g. tp ${largestWorkingTp(arch, plan.tp)}`,
    });
  }
  issues.push(...widthSplitIssues(arch, plan));
  const multiple = seqLengthMultiple(plan);
  if (plan.seqLength % multiple !== 0) {
    const why = [
      plan.cp > 1 ? `2 × cp (${2 * plan.cp}) chunks for ring attention's causal load balance` : '',
      plan.sequenceParallel && plan.tp > 1 ? `cp × tp (${plan.cp * plan.tp}) for sequence parallelism's split of each rank's tokens` : '',
    ].filter(Boolean);
    issues.push({
      path: 'plan.seqLength',
      received: plan.seqLength,
      expected: `a multiple of ${multiple} (${why.join(' and ')}); e.g. seqLength ${Math.ceil(plan.seqLength / multiple) * multiple}`,
    });
  }
  const perMicroBatchGroup = plan.microBatchSize * plan.dp * plan.pp;
  if (plan.vpp > 1 && plan.globalBatchSize % perMicroBatchGroup !== 0) {
    // The schedule would refuse it too (schedule-order), but naming a derived count; name the field to change.
    issues.push({
      path: 'plan.globalBatchSize',
      received: plan.globalBatchSize,
      expected: `a multiple of microBatchSize × dp × pp (${plan.microBatchSize}×${plan.dp}×${plan.pp} = ${perMicroBatchGroup}) when vpp > 1: Megatron-LM's interleaved schedule runs micro-batches in groups of pp, and this gives ${plan.globalBatchSize / (plan.microBatchSize * plan.dp)}; e.g. globalBatchSize ${Math.ceil(plan.globalBatchSize / perMicroBatchGroup) * perMicroBatchGroup}, or vpp 1`,
    });
  }
  issues.push(...absentModuleIssues(arch, plan));
  if (!hasMoeLayers(arch)) {
    for (const field of ['ep', 'etp'] as const) {
      if (plan[field] !== 1) {
        issues.push({
          path: `plan.${field}`,
          received: plan[field],
          expected: `1: ${arch.name ?? 'this architecture'} has no MoE layers (numExperts ${arch.numExperts}), so there are no experts to spread (Megatron-LM refuses expert parallelism without experts)`,
        });
      }
    }
  }
  return issues;
}

/**
 * Recompute and swap modules the architecture does not have, each with why: naming one would change
 * nothing, so a plan that does was most likely written for another model (an MLA plan reused for
 * GQA, a MoE plan for a dense model), and Megatron-LM would silently ignore the flag.
 */
export function absentModules(arch: MoeArch): { field: 'recompute' | 'swap'; module: RecomputeModule | SwapModule; why: string }[] {
  const name = arch.name ?? 'this architecture';
  const moe = hasMoeLayers(arch);
  // The 'mlp' swap covers dense FFNs and the shared expert (ffn-activations.ts).
  const mlp = !moe || arch.numDenseLayers > 0 || arch.sharedExpertFfnSize > 0;
  return [
    ...(arch.attention !== 'mla' ? [{ field: 'recompute', module: 'mla-up-proj', why: `${name} uses GQA attention, not MLA; recompute its attention with "attention-core"` } as const] : []),
    ...(!moe ? [{ field: 'recompute', module: 'permute', why: `${name} has no MoE layers, so no tokens are permuted` } as const] : []),
    ...(!moe ? [{ field: 'swap', module: 'moe', why: `${name} has no MoE layers; swap its FFN activations with "mlp"` } as const] : []),
    ...(!mlp ? [{ field: 'swap', module: 'mlp', why: `${name} has neither dense FFN layers nor a shared expert; swap its experts' activations with "moe"` } as const] : []),
  ];
}

function absentModuleIssues(arch: MoeArch, plan: ParallelPlan): FieldIssue[] {
  return absentModules(arch)
    .filter((a) => (plan[a.field] as readonly string[]).includes(a.module))
    .map((a) => ({ path: `plan.${a.field}`, received: plan[a.field], expected: `no "${a.module}": ${a.why}, or drop it` }));
}

/**
 * FFN widths over TP and the expert width over ETP in whole columns: training (Megatron-LM's `divide`)
 * and serving (vLLM's column-parallel linears assert the same) both refuse a fractional split. Serving
 * passes only the dense FFN: H2P-style layouts run the shared expert on a TP group of its own.
 */
export function widthSplitIssues(arch: MoeArch, plan: ParallelPlan, widths = tpSplitWidths(arch)): FieldIssue[] {
  const issues: FieldIssue[] = [];
  for (const { field, width } of widths) {
    if (width % plan.tp !== 0) {
      issues.push({ path: 'plan.tp', received: plan.tp, expected: `a divisor of ${field} (${width}): tensor parallelism splits that FFN's columns over TP; e.g. tp ${largestWorkingTp(arch, plan.tp)}` });
    }
  }
  if (hasMoeLayers(arch) && arch.expertFfnSize % plan.etp !== 0) {
    issues.push({ path: 'plan.etp', received: plan.etp, expected: `a divisor of expertFfnSize (${arch.expertFfnSize}): expert tensor parallelism splits each expert's columns; use etp ${largestDivisorAtMost(arch.expertFfnSize, plan.etp)} or fewer` });
  }
  return issues;
}

/** The largest tp up to `tp` that splits the heads, KV heads and FFN widths (1 always does). */
function largestWorkingTp(arch: MoeArch, tp: number): number {
  for (let d = tp; d > 1; d--) if (arch.numHeads % d === 0 && tpSplitsKvHeads(arch, d) && tpSplitsFfn(arch, d)) return d;
  return 1;
}

function largestDivisorAtMost(n: number, limit: number): number {
  for (let d = Math.min(n, limit); d > 1; d--) if (n % d === 0) return d;
  return 1;
}

function gcd(a: number, b: number): number {
  return b === 0 ? a : gcd(b, a % b);
}

function lcm(a: number, b: number): number {
  return (a / gcd(a, b)) * b;
}

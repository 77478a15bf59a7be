import { layerOps } from '../common/layer-ops';
import { isCommOp, type ComputeOp, type OpModule } from '../common/ops';
import type { PreparedTrainingSim } from './simulate';

/** How an op uses the chip: the matrix unit (matmuls, attention) or HBM bandwidth (elementwise kernels). */
export type OpClass = 'matmul' | 'attention' | 'memory-bound';

export interface OpTiming {
  name: string;
  module: OpModule;
  opClass: OpClass;
  forwardS: number;
  /** Input- plus weight-gradient time. */
  backwardS: number;
}

export interface LayerOpBreakdown {
  layer: number;
  ops: OpTiming[];
  /** Forward + backward compute time of the layer's ops by class (communication excluded). */
  byClass: Record<OpClass, number>;
  /** Share of the layer's forward + backward compute time spent in memory-bound (elementwise) kernels. */
  memoryBoundShare: number;
}

function opClass(op: ComputeOp): OpClass {
  if (op.kind === 'elementwise') return 'memory-bound';
  return op.kind === 'attention' ? 'attention' : 'matmul';
}

/**
 * Per-op forward and backward compute time of transformer layer `layer` on one device of a prepared
 * plan, with the share of memory-bound (elementwise) work: what fusing kernels can change. Recompute
 * and communication are left out; the numbers are the same ones the simulator sums per block.
 */
export function layerOpBreakdown(prep: PreparedTrainingSim, layer: number): LayerOpBreakdown {
  const ops: OpTiming[] = [];
  const byClass: Record<OpClass, number> = { matmul: 0, attention: 0, 'memory-bound': 0 };
  for (const op of layerOps(prep.input.arch, layer, prep.shard)) {
    if (isCommOp(op)) continue;
    const t = prep.compute.times(op);
    const timing: OpTiming = { name: op.name, module: op.module, opClass: opClass(op), forwardS: t.forwardS, backwardS: t.backwardInputS + t.backwardWeightS };
    ops.push(timing);
    byClass[timing.opClass] += timing.forwardS + timing.backwardS;
  }
  const total = byClass.matmul + byClass.attention + byClass['memory-bound'];
  return { layer, ops, byClass, memoryBoundShare: total > 0 ? byClass['memory-bound'] / total : 0 };
}

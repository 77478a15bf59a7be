import { jsVectorMath, type Backend, type Communicator, type VectorMath } from '@moge/ascend-hal';
import type { MoeArch } from '@moge/core';
import { stackedExpertName, type ExpertProjection } from '@moge/model';
import type { FlatLayout } from '../loop/flat-params';
import { ExpertParallelRunner, type LocalExpertGrads, type LocalExpertWeights } from './ep-runner';
import { shardLayout, type OwnedRange, type ShardedLayout } from './ep-shards';
import { expertOwnership, type ExpertOwnership } from './ownership';

/**
 * One rank's expert-parallel state for a run: who owns which experts, which part of the flat
 * parameter/gradient buffers is this rank's, and the runner the model calls in its MoE layers.
 * Local expert tensors are views of the rank's flat parameters, rebuilt each step (`beginStep`)
 * because the optimizer updates the parameters in place between steps.
 */
export class ExpertParallelContext {
  readonly own: ExpertOwnership;
  readonly shards: ShardedLayout;
  readonly runner: ExpertParallelRunner;
  /** Factor applied to expert gradients as they are accumulated (1 / micro-batches per step). */
  gradScale = 1;
  private backend?: Backend;
  private readonly ranges = new Map<string, OwnedRange>();
  private readonly localCache = new Map<number, LocalExpertWeights>();

  constructor(
    comm: Communicator,
    arch: MoeArch,
    expertGroups: number,
    layout: FlatLayout,
    private readonly params: Float32Array,
    private readonly grad: Float32Array,
    /** Runs the accumulation of expert gradients (`vectorMath()` in the trainer). */
    private readonly math: VectorMath = jsVectorMath,
  ) {
    this.own = expertOwnership(arch.numExperts, expertGroups, comm.size);
    this.shards = shardLayout(layout, this.own, comm.rank);
    for (const r of this.shards.experts) this.ranges.set(r.slot.name, r);
    this.runner = new ExpertParallelRunner(comm, this.own, arch.hiddenSize, (l) => this.local(l), (l, g) => this.accumulate(l, g));
  }

  /** Call after every parameter update, before the next forward. */
  beginStep(backend: Backend): void {
    this.backend = backend;
    this.localCache.clear();
  }

  private range(layer: number, proj: ExpertProjection): OwnedRange {
    const r = this.ranges.get(stackedExpertName(layer, proj));
    if (!r) throw new RangeError(`no expert weights for layer ${layer} ${proj}`);
    return r;
  }

  private local(layer: number): LocalExpertWeights {
    let w = this.localCache.get(layer);
    if (!w) {
      const b = this.backend;
      if (!b) throw new RangeError('ExpertParallelContext.beginStep must be called before a forward');
      const t = (proj: ExpertProjection) => {
        const r = this.range(layer, proj);
        return b.fromArray(this.params.subarray(r.start, r.end), r.shape);
      };
      w = { gate: t('gate_proj'), up: t('up_proj'), down: t('down_proj') };
      this.localCache.set(layer, w);
    }
    return w;
  }

  private accumulate(layer: number, g: LocalExpertGrads): void {
    const s = this.gradScale;
    for (const [proj, host] of [['gate_proj', g.gate], ['up_proj', g.up], ['down_proj', g.down]] as const) {
      const r = this.range(layer, proj);
      if (host.length !== r.end - r.start) throw new RangeError(`expert gradient of layer ${layer} ${proj} has ${host.length} elements, expected ${r.end - r.start}`);
      this.math.axpy(this.grad.subarray(r.start, r.end), host, s);
    }
  }

  /** Joins one forward of the whole model with no tokens of its own (evaluation rounds with fewer batches than ranks). */
  idleForward(numLayers: number): void {
    const b = this.backend;
    if (!b) throw new RangeError('ExpertParallelContext.beginStep must be called before a forward');
    for (let l = 0; l < numLayers; l++) this.runner.idleForward(b, l);
  }
}

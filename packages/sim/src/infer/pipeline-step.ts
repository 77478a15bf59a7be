import type { CommCostCache } from '../common/comm-cost';
import type { GroupLayout } from '../common/group-layout';
import { hopCrossesNodes } from './pipeline-stages';

/**
 * How a serving step crosses pipeline stages, as vLLM runs `--pipeline-parallel-size` (MindIE alike).
 *
 * Prefill (TTFT): the batch of a DP rank goes through the stages in order, so
 *   TTFT = Σ_s T_s + Σ_{s < pp−1} hop_s + host,
 * T_s a stage's forward of the whole batch, hop_s the send of its activations to the next stage.
 *
 * Decode: vLLM keeps pp batches ("virtual engines") in flight so that every stage is busy; each holds
 * b = ⌈B / pp⌉ of a DP rank's B sequences (the busiest micro-batch). A sequence's step is one trip of
 * its micro-batch round the ring of stages (the last stage's sampled tokens go back to the first):
 *   round trip = Σ_s T_s(b) + Σ_s hop_s + host,
 * and no stage can serve its m micro-batches faster than one after the other, nor the host schedule
 * and sample them faster (the host is one more server of the ring):
 *   step = max(round trip, m × max_s (T_s(b) + hop_s), m × host),
 * m = ⌈B / b⌉ the micro-batches that hold sequences (pp, unless B < pp or the ceiling empties one).
 * With balanced stages (T_s = T, hop_s = p) that is pp × T + pp × p + host: the stages' work of pp
 * micro-batches, the ring's pp sends, and the host once. TPOT = step / accepted tokens; throughput per
 * card = B·dp / TPOT / devices. With pp = 1 it is T + host, the step without stages.
 *
 * A hop (vLLM's `send_tensor_dict(…, all_gather_group=tp)`): the hidden states and the residual
 * (2 × tokens × hidden × activation bytes) split over the TP ranks, each sending its 1/tp to its
 * counterpart in the next stage, then an all-gather in the receiving TP group; both by the HAL's
 * point-to-point and collective models, over the tier the two stages talk over (hopCrossesNodes).
 * The ring's closing hop carries the sampled token ids (4 bytes each); vLLM routes them through the
 * host, here they cost a device send of the same bytes.
 *
 * Ignored: sends overlapping the sending stage's next micro-batch (costed exposed); the last stage
 * waiting on the host before its next micro-batch beyond the bounds above; unequal micro-batches
 * other than the busiest one (every micro-batch is costed at ⌈B / pp⌉); prefill batches pipelined
 * behind each other (prefill throughput is of the one batch); chunked prefill mixed into decode.
 * Assumed: the profile's host overhead per step (set at pp = 1) is the host's time per micro-batch.
 */
export interface PipelineHops {
  /** Send out of each stage (the last stage's is the ring's return hop in decode, 0 in prefill). */
  sendS: number[];
}

/** Bytes of the hidden state and residual vLLM sends between stages for `tokens` tokens. */
export const stageActivationBytes = (tokens: number, hiddenSize: number, actBytes: number): number => 2 * tokens * hiddenSize * actBytes;

/** Bytes of the sampled token ids (int32) the last stage hands back for `tokens` tokens. */
export const sampledTokenBytes = (tokens: number): number => 4 * tokens;

export interface HopCostInput {
  comm: CommCostCache;
  pp: number;
  /** Ranks of one stage (tp × dp): consecutive stages sit this many ranks apart. */
  stageDevices: number;
  devicesPerNode: number;
  tp: GroupLayout;
  /** Activation bytes one stage hands the next (whole DP rank's micro-batch). */
  activationBytes: number;
  /** Bytes of the ring's return hop (decode); null in prefill (no return). */
  returnBytes: number | null;
  /** Fixed cost of one communication call (launch). */
  callOverheadS: number;
}

/** One hop: each TP rank sends its 1/tp share, then the receiving TP group all-gathers the whole. */
function hopS(h: HopCostInput, bytes: number, from: number, to: number): number {
  const cross = hopCrossesNodes(from, to, h.stageDevices, h.devicesPerNode);
  const sendS = h.comm.sendRecv(bytes / h.tp.size, cross);
  // The gathered hidden state stands in for the receiving stage's embedding output (the module only labels it).
  const gatherS = h.tp.size > 1 ? h.comm.collective({ kind: 'collective', name: 'pp-all-gather', module: 'embedding', group: 'tp', op: 'all-gather', bytes, ranks: h.tp.size }, h.tp) : 0;
  const calls = (sendS > 0 ? 1 : 0) + (gatherS > 0 ? 1 : 0);
  return sendS + gatherS + calls * h.callOverheadS;
}

/** The send out of every stage (empty of cost when pp = 1). */
export function pipelineHops(h: HopCostInput): PipelineHops {
  const sendS = Array.from({ length: h.pp }, (_, s) => {
    if (h.pp === 1) return 0;
    if (s < h.pp - 1) return hopS(h, h.activationBytes, s, s + 1);
    return h.returnBytes === null ? 0 : hopS({ ...h, tp: { size: 1, ranksPerNode: 1 } }, h.returnBytes, s, 0);
  });
  return { sendS };
}

/** What paces a decode step: one micro-batch's trip round the ring, the busiest stage, or the host. */
export type PipelineBound = 'round-trip' | 'busiest-stage' | 'host';

export interface PipelineStepTime {
  stepTimeS: number;
  /** Point-to-point time on the round trip (Σ hops). */
  p2pS: number;
  /** Stage with the most work per micro-batch (its forward plus its send); the first on a tie. */
  busiestStage: number;
  limitedBy: PipelineBound;
}

/**
 * The step time of the model above from each stage's device time `stageS` (its forward of one
 * micro-batch, MTP drafts included on the last stage), its send, the host's time per micro-batch and
 * the number of micro-batches in flight (default: one per stage).
 * Summed in the order that makes pp = 1 the old `T + host` bit for bit.
 */
export function pipelineStepTime(stageS: readonly number[], hops: PipelineHops, hostS: number, decode: boolean, microBatches = stageS.length): PipelineStepTime {
  let deviceS = 0;
  for (const t of stageS) deviceS += t;
  let p2pS = 0;
  for (const t of hops.sendS) p2pS += t;
  let busiestStage = 0;
  const busy = stageS.map((t, s) => t + hops.sendS[s]!);
  busy.forEach((b, s) => {
    if (b > busy[busiestStage]!) busiestStage = s;
  });
  const roundTripS = deviceS + p2pS + hostS;
  if (!decode) return { stepTimeS: roundTripS, p2pS, busiestStage, limitedBy: 'round-trip' };
  const stageBoundS = microBatches * busy[busiestStage]!;
  const hostBoundS = microBatches * hostS;
  const stepTimeS = Math.max(roundTripS, stageBoundS, hostBoundS);
  const limitedBy: PipelineBound = stepTimeS === roundTripS ? 'round-trip' : stepTimeS === stageBoundS ? 'busiest-stage' : 'host';
  return { stepTimeS, p2pS, busiestStage, limitedBy };
}

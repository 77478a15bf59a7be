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

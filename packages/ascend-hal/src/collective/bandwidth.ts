import { CollectiveOpSchema, type CollectiveOp } from './schemas';

/**
 * NCCL's bus-bandwidth factor: busbw = algbw × factor. It rescales algorithm bandwidth (bytes /
 * time, what HCCL's tester prints) to the per-link rate a ring would need, so that figures of
 * different ops and rank counts compare against the hardware link speed.
 */
export function busBandwidthFactor(op: CollectiveOp, ranks: number): number {
  if (!Number.isInteger(ranks) || ranks < 1) throw new RangeError(`ranks: got ${ranks}, expected an integer ≥ 1`);
  switch (op) {
    case 'all-reduce':
      return (2 * (ranks - 1)) / ranks;
    case 'all-gather':
    case 'reduce-scatter':
    case 'all-to-all':
    case 'all-to-allv':
      return (ranks - 1) / ranks;
    case 'broadcast':
    case 'send-recv':
      return 1;
    default:
      // Reachable from JS or JSON only; would otherwise return undefined and every conversion NaN.
      throw new RangeError(`op: got ${JSON.stringify(op as unknown)}, expected one of ${CollectiveOpSchema.options.join(', ')}`);
  }
}

/** A bandwidth to convert: NaN, ±Infinity or a negative rate would come back converted, silently. */
function checkBandwidth(field: string, value: number): void {
  if (!(Number.isFinite(value) && value >= 0)) throw new RangeError(`${field}: got ${value}, expected a finite number of bytes/s ≥ 0`);
}

/** HCCL algorithm bandwidth → NCCL bus bandwidth. */
export function algToBusBandwidth(op: CollectiveOp, ranks: number, algBandwidth: number): number {
  checkBandwidth('algBandwidth', algBandwidth);
  return algBandwidth * busBandwidthFactor(op, ranks);
}

/** NCCL bus bandwidth → HCCL algorithm bandwidth. Undefined (throws) where the factor is 0 (one rank). */
export function busToAlgBandwidth(op: CollectiveOp, ranks: number, busBandwidth: number): number {
  checkBandwidth('busBandwidth', busBandwidth);
  const factor = busBandwidthFactor(op, ranks);
  if (factor === 0) throw new RangeError(`a ${op} over 1 rank moves nothing: bus bandwidth does not determine algorithm bandwidth`);
  return busBandwidth / factor;
}

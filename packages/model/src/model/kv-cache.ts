import { MogeError, type MoeArch } from '@moge/core';
import type { KvPair } from '../layers/attention';

/**
 * Keys and values of every layer for B sequences that advance together (one decode step appends the
 * same number of tokens to each). Per layer: [B·KV, C·D] for K and for V, post-RoPE keys, of which the
 * first L = `length` positions are filled. After the prefill C = L; from the first decode step on, C
 * has spare room (grown in steps of KV_CAPACITY_STEP) and each step writes its keys and values in
 * place (see `KvPair` in layers/attention.ts). A cache is advanced, never forked: a step writes into
 * the buffers earlier steps returned.
 */
export interface KvCache {
  readonly batch: number;
  /** The KV heads and head size of the arch the cache was created for: a forward of another model is refused. */
  readonly numKvHeads: number;
  readonly headDim: number;
  /** Positions cached per sequence (L). */
  length: number;
  layers: (KvPair | undefined)[];
}

export function createKvCache(arch: MoeArch, batch: number): KvCache {
  if (!Number.isInteger(batch) || batch < 1) throw new MogeError('E_KV_CACHE', `KV cache batch: got ${batch}, expected an integer ≥ 1`);
  return { batch, numKvHeads: arch.numKvHeads, headDim: arch.headDim, length: 0, layers: new Array<KvPair | undefined>(arch.numLayers).fill(undefined) };
}

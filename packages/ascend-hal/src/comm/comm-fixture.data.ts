// Data of the communicator tests, shared by the worker fixture and the test that checks it.
import { Rng } from '@moge/core';

export interface FixturePayload {
  length: number;
  /** Rank that throws mid-run (to test that failures propagate instead of hanging peers). */
  failRank?: number;
  /** With failRank: throw a MogeError of this code instead of a plain Error. */
  failCode?: string;
}

export function rankData(rank: number, length: number): Float32Array {
  const rng = new Rng(1000 + rank);
  return Float32Array.from({ length }, () => rng.normal());
}

/** Elements rank s sends to rank d in the all-to-all test: uneven, sometimes zero. */
export function a2aCount(s: number, d: number, length: number): number {
  return ((s * 7 + d * 3) % 5) * Math.max(1, Math.floor(length / 7));
}


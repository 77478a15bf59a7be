import { describe, expect, it } from 'vitest';
import { runWorkerGroup } from './worker-group';
import { SoloCommunicator } from './communicator';
import { SharedMemoryCommunicator, createSharedGroup } from './shared-memory';
import { a2aCount, rankData, type FixturePayload } from './comm-fixture.data';

interface FixtureResult {
  summed: Float32Array;
  maxed: Float32Array;
  gathered: Float32Array;
  scattered: Float32Array;
  a2a: Int32Array;
  recvCounts: number[];
}

const entry = new URL('./comm-fixture.worker.ts', import.meta.url);

function expectedSum(size: number, length: number): Float32Array {
  const acc = new Float64Array(length);
  for (let r = 0; r < size; r++) rankData(r, length).forEach((v, i) => (acc[i] += v));
  return Float32Array.from(acc);
}

describe('SharedMemoryCommunicator over worker threads', () => {
  for (const [size, slotBytes] of [[1, 1 << 20], [2, 256], [3, 1 << 20], [4, 200]] as const) {
    it(`${size} rank(s), ${slotBytes}-byte slots: every collective matches the serial reduction`, async () => {
      const length = 97;
      const results = await runWorkerGroup<FixtureResult>({ size, entry, payload: { length } satisfies FixturePayload, slotBytes });
      const sum = expectedSum(size, length);
      const max = new Float32Array(length).fill(-Infinity);
      for (let r = 0; r < size; r++) rankData(r, length).forEach((v, i) => (max[i] = Math.max(max[i]!, v)));
      const gathered = Float32Array.from(Array.from({ length: size }, (_, r) => [...rankData(r, length).subarray(0, length - r)]).flat());
      const per = Math.ceil(length / size);
      for (const [rank, res] of results.entries()) {
        expect(res.summed).toEqual(sum); // bit-identical on every rank
        expect(res.maxed).toEqual(max);
        expect(res.gathered).toEqual(gathered);
        const padded = new Float32Array(size * per);
        padded.set(sum);
        expect(res.scattered).toEqual(padded.subarray(rank * per, (rank + 1) * per));
        const expectA2a: number[] = [];
        for (let s = 0; s < size; s++) {
          const start = Array.from({ length: rank }, (_, d) => a2aCount(s, d, length)).reduce((a, b) => a + b, 0);
          for (let i = 0; i < a2aCount(s, rank, length); i++) expectA2a.push(s * 1_000_000 + start + i);
        }
        expect(res.recvCounts).toEqual(Array.from({ length: size }, (_, s) => a2aCount(s, rank, length)));
        expect(Array.from(res.a2a)).toEqual(expectA2a);
      }
    });
  }

  it('a rank that throws fails the group with its rank named, and peers do not hang', async () => {
    await expect(
      runWorkerGroup({ size: 3, entry, payload: { length: 16, failRank: 1 } satisfies FixturePayload }),
    ).rejects.toThrow(/rank 1 failed: deliberate failure/);
  });

  it('a rank that throws a MogeError fails the group with its code (E_WORKER for other errors)', async () => {
    const run = (failCode?: string) => runWorkerGroup({ size: 2, entry, payload: { length: 16, failRank: 1, ...(failCode ? { failCode } : {}) } satisfies FixturePayload });
    await expect(run('E_DIVERGED')).rejects.toMatchObject({ code: 'E_DIVERGED', rank: 1, message: expect.stringMatching(/worker rank 1 failed: deliberate failure/) });
    await expect(run()).rejects.toMatchObject({ code: 'E_WORKER', rank: 1 });
  });

  it('refuses a slot size or timeout that is not a positive number', () => {
    for (const slotBytes of [Number.NaN, Number.POSITIVE_INFINITY, 0, -8]) expect(() => createSharedGroup(2, { slotBytes })).toThrow(/^slotBytes must be a finite number > 0, got/);
    for (const timeoutMs of [Number.NaN, 0, -1]) expect(() => createSharedGroup(2, { timeoutMs })).toThrow(/^timeoutMs must be > 0/);
    // Small slots stay valid: a collective larger than a slot runs in rounds.
    const comm = new SharedMemoryCommunicator(createSharedGroup(1, { slotBytes: 1 }), 0);
    expect(comm.allGather(Float32Array.of(1, 2, 3))).toEqual(Float32Array.of(1, 2, 3));
  });

  it('one rank: shared-memory and solo communicators are copies', () => {
    const data = Float32Array.of(1, 2, 3);
    for (const comm of [new SharedMemoryCommunicator(createSharedGroup(1), 0), new SoloCommunicator()]) {
      const x = data.slice();
      comm.allReduce(x);
      expect(x).toEqual(data);
      expect(comm.allGather(data)).toEqual(data);
      expect(comm.allToAllV(data, [3]).data).toEqual(data);
      expect(() => comm.allToAllV(data, [2])).toThrow(/sendCounts/);
    }
  });
});

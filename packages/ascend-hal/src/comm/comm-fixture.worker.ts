// Worker entry for the communicator tests: runs every collective on rank-seeded data and returns
// the outputs, so the test can compare them with a reduction computed serially.
import { MogeError } from '@moge/core';
import { a2aCount, rankData, type FixturePayload } from './comm-fixture.data';
import { finishWorker, joinWorkerGroup } from './worker-group';

const { comm, payload } = joinWorkerGroup<FixturePayload>();
const { rank, size } = comm;
const mine = rankData(rank, payload.length);

const summed = mine.slice();
comm.allReduce(summed);
const maxed = mine.slice();
comm.allReduce(maxed, 'max');
if (payload.failRank === rank) throw payload.failCode ? new MogeError(payload.failCode, 'deliberate failure') : new Error('deliberate failure');
const gathered = comm.allGather(mine.subarray(0, payload.length - rank)); // uneven lengths
const padded = new Float32Array(size * Math.ceil(payload.length / size));
padded.set(mine);
const scattered = comm.reduceScatter(padded);
const counts = Array.from({ length: size }, (_, d) => a2aCount(rank, d, payload.length));
const send = Int32Array.from({ length: counts.reduce((a, b) => a + b, 0) }, (_, i) => rank * 1_000_000 + i);
const a2a = comm.allToAllV(send, counts);
comm.barrier();
finishWorker({ summed, maxed, gathered, scattered, a2a: a2a.data, recvCounts: a2a.recvCounts });

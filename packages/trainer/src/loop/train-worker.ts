// Worker-thread entry of a multi-worker run: joins the shared-memory group and runs its rank.
import { finishWorker, joinWorkerGroup, postToParent } from '@moge/ascend-hal/node';
import { trainRank, type RunInit } from './rank-loop';

const { comm, payload } = joinWorkerGroup<RunInit>();
const result = trainRank(payload, comm, comm.rank === 0 ? (record) => postToParent(record) : undefined);
finishWorker(result);

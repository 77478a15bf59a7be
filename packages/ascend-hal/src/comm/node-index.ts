export { runWorkerGroup, joinWorkerGroup, finishWorker, postToParent, type WorkerGroupOptions } from './worker-group';

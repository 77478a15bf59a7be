export { SoloCommunicator, allocLike, type Communicator, type CommArray, type ReduceOp, type AllToAllResult } from './communicator';
export { SharedMemoryCommunicator, createSharedGroup, abortSharedGroup, CommAbortedError, type SharedGroupInit } from './shared-memory';

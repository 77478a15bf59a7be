// Node-only parts of @moge/ascend-hal (native kernels, files, worker threads).
export * from './backend/node-index';
export * from './comm/node-index';

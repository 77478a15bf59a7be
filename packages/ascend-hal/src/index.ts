// Public API of @moge/ascend-hal. Each area re-exports its own public names from its index.
export * from './backend/index';
export * from './catalog/index';
export * from './cost/index';
export * from './collective/index';
export * from './comm/index';

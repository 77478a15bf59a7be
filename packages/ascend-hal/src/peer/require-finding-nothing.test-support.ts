/** In a test, what `createRequire` gives where nothing is installed: require and require.resolve throw MODULE_NOT_FOUND. */
export function requireFindingNothing(): ((id: string) => never) & { resolve: (id: string) => never } {
  const notFound = (id: string): never => {
    throw Object.assign(new Error(`Cannot find module '${id}'\nRequire stack: ...`), { code: 'MODULE_NOT_FOUND' });
  };
  return Object.assign(notFound, { resolve: notFound });
}

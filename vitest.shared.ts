import { readdirSync, existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

const root = dirname(fileURLToPath(import.meta.url));
const packagesDir = join(root, 'packages');

/**
 * Tests import sibling packages from their TypeScript sources (`@moge/x` → packages/x/src/index.ts,
 * `@moge/x/node` → packages/x/src/node.ts), so a test run never depends on a stale build.
 */
function workspaceAliases() {
  const aliases: { find: RegExp; replacement: string }[] = [];
  for (const name of readdirSync(packagesDir)) {
    const src = join(packagesDir, name, 'src');
    if (!existsSync(src)) continue;
    if (existsSync(join(src, 'node.ts'))) {
      aliases.push({ find: new RegExp(`^@moge/${name}/node$`), replacement: join(src, 'node.ts') });
    }
    aliases.push({ find: new RegExp(`^@moge/${name}$`), replacement: join(src, 'index.ts') });
  }
  return aliases;
}

export default defineConfig({
  resolve: { alias: workspaceAliases() },
  test: {
    include: ['src/**/*.test.ts', 'test/**/*.test.ts'],
    // A JSON report beside the console output lets `npm test` print one closing 'N passed, N failed' line.
    reporters: ['default', ['json', { outputFile: 'test-results.json' }]],
    testTimeout: 120_000,
    hookTimeout: 120_000,
    benchmark: { include: ['bench/**/*.bench.ts'] },
  },
});

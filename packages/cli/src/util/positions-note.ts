import type { MoeArch } from '@moge/core';

/**
 * A note on stderr when a planned context runs past the architecture's `maxPositionEmbeddings`. Not an
 * error: planners size long-context deployments of models whose config states a shorter limit (RoPE
 * scaling, a long-context variant), but the reader should know the estimate assumes it.
 */
export function notePastPositions(arch: MoeArch, tokens: number, what: string): void {
  if (!(tokens > arch.maxPositionEmbeddings)) return;
  process.stderr.write(
    `note: ${what} ${tokens} is past ${arch.name ?? 'the model'}'s maxPositionEmbeddings (${arch.maxPositionEmbeddings}); the estimate assumes the model takes that many positions\n`,
  );
}

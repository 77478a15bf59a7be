import type { MlaRanks } from '@moge/core';
import { flag } from './flag';

/**
 * Multi-head latent attention (DeepSeek-V2/V3, Pangu Ultra MoE) in each engine's spelling. The two
 * engines name the same five ranks differently:
 * - Megatron-LM (`_add_mla_args` in arguments.py): `--multi-latent-attention`, `--q-lora-rank`,
 *   `--kv-lora-rank`, `--qk-head-dim` (the no-position part), `--qk-pos-emb-head-dim` (the RoPE part),
 *   `--v-head-dim`. Its MLA config defaults to YaRN RoPE scaling in some versions (DeepSeek-V3's factor
 *   40); `--rotary-scaling-factor 1` makes YaRN equal plain RoPE (no interpolation, mscale 1) in every
 *   version, which is what this model computes.
 * - MindSpeed-LLM (its DeepSeek-V3 scripts): `--multi-head-latent-attention`, `--qk-rope-head-dim`,
 *   `--qk-nope-head-dim`, `--q-lora-rank`, `--kv-lora-rank`, `--v-head-dim`; RoPE scaling is off unless
 *   `--rope-scaling-type` is given.
 * Both take `--qk-layernorm` for the RMSNorms on the compressed q and kv latents, which the model has.
 * A q rank of 0 means queries are projected directly (no q compression): the flag is left out, as both
 * engines read its absence that way.
 */
export function mlaArgs(mla: MlaRanks, mindspeed: boolean): string[] {
  const qRank = mla.qLoraRank > 0 ? flag('--q-lora-rank', mla.qLoraRank) : [];
  if (mindspeed) {
    return [
      ...flag('--multi-head-latent-attention'),
      ...flag('--qk-rope-head-dim', mla.qkRopeHeadDim),
      ...flag('--qk-nope-head-dim', mla.qkNopeHeadDim),
      ...qRank,
      ...flag('--kv-lora-rank', mla.kvLoraRank),
      ...flag('--v-head-dim', mla.vHeadDim),
      ...flag('--qk-layernorm'),
    ];
  }
  return [
    ...flag('--multi-latent-attention'),
    ...qRank,
    ...flag('--kv-lora-rank', mla.kvLoraRank),
    ...flag('--qk-head-dim', mla.qkNopeHeadDim),
    ...flag('--qk-pos-emb-head-dim', mla.qkRopeHeadDim),
    ...flag('--v-head-dim', mla.vHeadDim),
    ...flag('--qk-layernorm'),
    ...flag('--rotary-scaling-factor', 1),
  ];
}

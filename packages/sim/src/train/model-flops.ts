import { countParameters, type MoeArch } from '@moge/core';
import { attentionFlopsPerToken, flopsPerToken } from '@moge/model';

/** Model FLOPs of one trained token, by part; `total` is what MFU divides by. */
export interface TrainingFlopsPerToken {
  /** 6 × active non-embedding parameters of the main model. */
  params: number;
  /** Output head (logits): 6 · h · V. */
  head: number;
  /** 3 × forward attention scores and values at the full causal square. */
  attention: number;
  /** Multi-token-prediction modules: their parameters, attention and their pass through the shared head. */
  mtp: number;
  total: number;
}

export const MFU_CONVENTION =
  'Megatron-LM convention (MindSpeed, which the Pangu papers train with, reports this): model FLOPs per token = 6 × active non-embedding parameters + 6·h·V for the output head + 3 × forward attention FLOPs at the full causal square (2·s·(d_qk + d_v) per layer) + the same for each MTP module, over tokens/s × bf16 peak of all devices. targets.md\'s minimal convention (no head, no MTP) is @moge/model flopsPerToken().mfu.';

/**
 * Every matmul FLOP a training step spends per token on the model itself (not recompute): the main
 * model with its output head, plus MTP modules, which Pangu Ultra trains alongside and Megatron-LM's
 * FLOP count includes. Recompute is excluded: MFU counts model FLOPs, not hardware FLOPs.
 */
export function trainingFlopsPerToken(arch: MoeArch, seqLen: number): TrainingFlopsPerToken {
  const f = flopsPerToken(arch, { seqLen, pass: 'training' });
  let mtp = 0;
  if (arch.mtpDepth > 0) {
    const perDepthParams = countParameters(arch).mtp.active / arch.mtpDepth;
    const attentionOneLayer = attentionFlopsPerToken(arch, seqLen) / arch.numLayers;
    mtp = arch.mtpDepth * (6 * perDepthParams + 3 * attentionOneLayer + f.head);
  }
  return { params: f.params, head: f.head, attention: f.attention, mtp, total: f.params + f.head + f.attention + mtp };
}

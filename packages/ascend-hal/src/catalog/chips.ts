import { sourced, GB, GiB, MiB, TB, TERA } from '@moge/core';
import { deepFreeze } from './merge';
import type { ChipSpec } from './schemas';

// Sources quoted once so that every number below names where it came from. "targets.md" is
// shared/reference/targets.md, which in turn names the primary source.
const PANGU_PRO = 'Pangu Pro MoE, arXiv 2505.21411 §3 (targets.md)';
const OPENPANGU_HBM = 'openPangu model card: 64 GB per NPU; a third party measured 64 GiB on 910B2/B3 (targets.md)';
const DUO_SPEC = 'Huawei Atlas 300I Duo spec page (targets.md), per card; one chip = half a card';
const A3_SOURCES = 'Ascend 910C reports, conflicting (targets.md): 376–400 TFLOPS BF16 per die, 2 dies';
const H100_DS = 'NVIDIA H100 Tensor Core GPU datasheet (SXM5), dense';
const H200_DS = 'NVIDIA H200 Tensor Core GPU datasheet (SXM) (targets.md)';
const H800_DS = 'NVIDIA H800 SXM5 product brief (same GH100 compute as H100 SXM5), dense';
const A100_DS = 'NVIDIA A100 Tensor Core GPU datasheet (SXM4 80GB), dense';
// Device memory of the NVIDIA parts is the total nvidia-smi reports (in MiB), for every part alike:
// the datasheet's round "80 GB" read as decimal (74.5 GiB) understated H100/H800/A100 by 6–7 %.
// (CUDA's own total, cudaMemGetInfo, is a few hundred MiB lower: 143,156 MiB on the H200 below.)
const NVSMI_RECALLED = 'as widely quoted from public nvidia-smi logs; recalled, not measured by us (high confidence)';
const FP32_NOT_PUBLISHED = 'assumed: fp32 rate not in our sources; 1/4 of the fp16 cube rate';

/** The efficiency profile of a chip: the H200 one is fitted; others are assumed until measured. */
const h200Profile = {
  name: 'nvidia-h200',
  source: 'fitted to the GEMM, attention and copy rows measured on one H200 (tools/calibrate/data/h200-ops.json)',
  confidence: 'measured',
} as const;
const gh100FromH200 = {
  name: 'nvidia-h200',
  source: 'assumed: same GH100 die as H200, so the same efficiency curve (the roofline handles the slower HBM)',
  confidence: 'assumed',
} as const;

export const ASCEND_910B: ChipSpec = {
  name: 'ascend-910b',
  vendor: 'huawei',
  displayName: 'Ascend 910B',
  peakFlops: {
    fp32: sourced(64 * TERA, FP32_NOT_PUBLISHED, 'assumed'),
    bf16: sourced(256 * TERA, `${PANGU_PRO}; other sources give 313–400 TFLOPS for 910B SKUs`, 'published'),
    fp16: sourced(256 * TERA, PANGU_PRO, 'published'),
    int8: sourced(512 * TERA, PANGU_PRO, 'published'),
  },
  hbmBytes: sourced(64 * GiB, OPENPANGU_HBM, 'published'),
  hbmBandwidth: sourced(1.6 * TB, 'targets.md: ~1.6 TB/s, no primary source found', 'assumed'),
  efficiencyProfile: { name: 'ascend-910b', source: 'assumed profile: no microbenchmark rows measured on 910B yet', confidence: 'assumed' },
};

/** One 910C package (2 dies) is one device; the lower of the conflicting per-die peaks is used. */
export const ASCEND_910C: ChipSpec = {
  name: 'ascend-910c',
  vendor: 'huawei',
  displayName: 'Ascend 910C (2 dies)',
  peakFlops: {
    fp32: sourced((2 * 376 * TERA) / 4, FP32_NOT_PUBLISHED, 'assumed'),
    bf16: sourced(2 * 376 * TERA, `${A3_SOURCES}; lower value taken`, 'published'),
    fp16: sourced(2 * 376 * TERA, `${A3_SOURCES}; lower value taken, fp16 = bf16 rate assumed`, 'assumed'),
    int8: sourced(2 * 2 * 376 * TERA, 'assumed: int8 = 2 × bf16 as on 910B', 'assumed'),
  },
  hbmBytes: sourced(2 * 64 * GiB, 'targets.md: 64 GB HBM per die, 2 dies; read as 64 GiB, the size measured on the 910B die it pairs (decimal GB would be 7 % less)', 'published'),
  hbmBandwidth: sourced(2 * 1.6 * TB, 'assumed: 2 dies × the 910B figure (~1.6 TB/s, itself assumed)', 'assumed'),
  efficiencyProfile: { name: 'ascend-910c', source: 'assumed profile: no microbenchmark rows measured on 910C yet', confidence: 'assumed' },
};

/** One Ascend 310P chip, i.e. half an Atlas 300I Duo card. It has no bf16 path (0). */
export const ASCEND_310P: ChipSpec = {
  name: 'ascend-310p',
  vendor: 'huawei',
  displayName: 'Ascend 310P (half an Atlas 300I Duo)',
  peakFlops: {
    fp32: sourced((140 * TERA) / 2 / 4, FP32_NOT_PUBLISHED, 'assumed'),
    bf16: sourced(0, 'vendor spec lists FP16 and INT8 compute only: no bf16 path', 'published'),
    fp16: sourced((140 * TERA) / 2, 'targets.md: ~140 TFLOPS FP16 per card (assumed), halved per chip', 'assumed'),
    int8: sourced((280 * TERA) / 2, `${DUO_SPEC}: 280 TOPS INT8`, 'published'),
  },
  hbmBytes: sourced((96 * GB) / 2, `${DUO_SPEC}: 96 GB LPDDR4X (decimal GB taken, the conservative reading)`, 'published'),
  hbmBandwidth: sourced((408 * GB) / 2, `${DUO_SPEC}: 408 GB/s`, 'published'),
  efficiencyProfile: { name: 'ascend-310p', source: 'assumed profile: no microbenchmark rows measured on 310P yet', confidence: 'assumed' },
};

export const NVIDIA_H200: ChipSpec = {
  name: 'nvidia-h200',
  vendor: 'nvidia',
  displayName: 'NVIDIA H200 SXM',
  peakFlops: {
    fp32: sourced(67 * TERA, `${H200_DS}: FP32 (non-tensor)`, 'published'),
    bf16: sourced(989 * TERA, `${H200_DS}: BF16 dense`, 'published'),
    fp16: sourced(989 * TERA, `${H200_DS}: FP16 dense`, 'published'),
    int8: sourced(1979 * TERA, `${H200_DS}: INT8 dense`, 'published'),
  },
  hbmBytes: sourced(143_771 * MiB, 'targets.md: 141 GB HBM3e, 143,771 MiB visible to CUDA (140.4 GiB; the nvidia-smi total, confirmed on one H200)', 'published'),
  hbmBandwidth: sourced(4.8 * TB, H200_DS, 'published'),
  efficiencyProfile: h200Profile,
};

export const NVIDIA_H100: ChipSpec = {
  name: 'nvidia-h100',
  vendor: 'nvidia',
  displayName: 'NVIDIA H100 SXM5',
  peakFlops: {
    fp32: sourced(67 * TERA, `${H100_DS}: FP32 (non-tensor)`, 'published'),
    bf16: sourced(989.4 * TERA, `${H100_DS}: BF16`, 'published'),
    fp16: sourced(989.4 * TERA, `${H100_DS}: FP16`, 'published'),
    int8: sourced(1978.9 * TERA, `${H100_DS}: INT8`, 'published'),
  },
  hbmBytes: sourced(81_559 * MiB, `nvidia-smi total of H100 80GB HBM3 (SXM5): 81,559 MiB (79.6 GiB; datasheet "80 GB"), ${NVSMI_RECALLED}`, 'published'),
  hbmBandwidth: sourced(3.35 * TB, `${H100_DS}: 3.35 TB/s`, 'published'),
  efficiencyProfile: gh100FromH200,
};

/** H800: the H100 SXM5 compute die with NVLink cut to 400 GB/s (the node carries the link). */
export const NVIDIA_H800: ChipSpec = {
  name: 'nvidia-h800',
  vendor: 'nvidia',
  displayName: 'NVIDIA H800 SXM5',
  peakFlops: {
    fp32: sourced(67 * TERA, `${H800_DS}: FP32 (non-tensor)`, 'published'),
    bf16: sourced(989.4 * TERA, `${H800_DS}: BF16`, 'published'),
    fp16: sourced(989.4 * TERA, `${H800_DS}: FP16`, 'published'),
    int8: sourced(1978.9 * TERA, `${H800_DS}: INT8`, 'published'),
  },
  hbmBytes: sourced(81_559 * MiB, 'assumed: the 81,559 MiB nvidia-smi total of H100 SXM5 (same 80 GB HBM3 stacks; public H800 logs show the same as far as recalled, medium-high confidence)', 'assumed'),
  hbmBandwidth: sourced(3.35 * TB, `${H800_DS}: 3.35 TB/s`, 'published'),
  efficiencyProfile: gh100FromH200,
};

export const NVIDIA_A100: ChipSpec = {
  name: 'nvidia-a100',
  vendor: 'nvidia',
  displayName: 'NVIDIA A100 SXM4 80GB',
  peakFlops: {
    fp32: sourced(19.5 * TERA, `${A100_DS}: FP32 (non-tensor)`, 'published'),
    bf16: sourced(312 * TERA, `${A100_DS}: BF16`, 'published'),
    fp16: sourced(312 * TERA, `${A100_DS}: FP16`, 'published'),
    int8: sourced(624 * TERA, `${A100_DS}: INT8`, 'published'),
  },
  hbmBytes: sourced(81_920 * MiB, `nvidia-smi total of A100-SXM4-80GB: 81,920 MiB (80.0 GiB; datasheet "80 GB"), ${NVSMI_RECALLED}`, 'published'),
  hbmBandwidth: sourced(2.039 * TB, `${A100_DS}: 2,039 GB/s`, 'published'),
  efficiencyProfile: { name: 'nvidia-a100', source: 'assumed profile: no microbenchmark rows measured on A100 yet', confidence: 'assumed' },
};

export const CHIP_PRESETS: readonly ChipSpec[] = deepFreeze([ASCEND_910B, ASCEND_910C, ASCEND_310P, NVIDIA_H100, NVIDIA_H200, NVIDIA_H800, NVIDIA_A100]);

export function listChips(): readonly ChipSpec[] {
  return CHIP_PRESETS;
}

export function findChip(name: string): ChipSpec | undefined {
  return CHIP_PRESETS.find((c) => c.name === name);
}

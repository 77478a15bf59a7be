import { closestName, sourced, GBIT_PER_S_IN_BYTES, GB, GiB, TB, TiB, ValidationError, type FieldIssue } from '@moge/core';
import { ASCEND_310P, ASCEND_910B, ASCEND_910C, NVIDIA_A100, NVIDIA_H100, NVIDIA_H200, NVIDIA_H800 } from './chips';
import { deepFreeze } from './merge';
import type { LinkTier, NodeSpec } from './schemas';

// Per-step latencies (α) are nowhere published as such; they are order-of-magnitude figures for one
// message step of a collective on that technology, marked assumed so nobody mistakes them for data.
const latency = (seconds: number, tech: string) =>
  sourced(seconds, `assumed: order of magnitude of one collective step over ${tech}`, 'assumed');

const HCCS_910B: LinkTier = {
  name: 'HCCS',
  bandwidth: sourced(7 * 56 * GB, 'targets.md: HCCS full mesh, 7 links × 56 GB/s per NPU; widely cited, no primary source found', 'assumed'),
  latencyS: latency(5e-6, 'HCCS'),
  topology: 'full-mesh',
  links: 7,
};
const ROCE_200G: LinkTier = {
  name: 'RoCE 200G',
  bandwidth: sourced(200 * GBIT_PER_S_IN_BYTES, 'Huawei DeepServe paper: 200 Gb/s RoCE per NPU (targets.md)', 'published'),
  latencyS: latency(10e-6, 'RoCE'),
  topology: 'switch',
};
const PCIE4_X16_HOST: LinkTier = {
  name: 'PCIe 4.0 x16',
  bandwidth: sourced(31.5 * GB, 'assumed: NPU ↔ host over PCIe 4.0 ×16 (31.5 GB/s each way)', 'assumed'),
  latencyS: latency(10e-6, 'PCIe'),
  topology: 'pcie',
};

function nvlinkSwitch(name: string, bidirectionalBytes: number, source: string): LinkTier {
  return {
    name,
    // Datasheets quote NVLink bidirectionally; the model uses one direction.
    bandwidth: sourced(bidirectionalBytes / 2, `${source}: ${bidirectionalBytes / GB} GB/s bidirectional, halved`, 'published'),
    latencyS: latency(2e-6, 'NVLink/NVSwitch'),
    topology: 'switch',
  };
}
function infiniband(gbitPerS: number, source: string): LinkTier {
  return {
    name: `InfiniBand ${gbitPerS}G`,
    bandwidth: sourced(gbitPerS * GBIT_PER_S_IN_BYTES, `${source}: one ${gbitPerS} Gb/s NIC per GPU`, 'published'),
    latencyS: latency(10e-6, 'InfiniBand'),
    topology: 'switch',
  };
}
function pcieHost(gen: 4 | 5, source: string): LinkTier {
  const bytes = gen === 5 ? 64 * GB : 32 * GB;
  return {
    name: `PCIe ${gen}.0 x16`,
    bandwidth: sourced(bytes, `${source}: PCIe Gen${gen} ×16, ${(2 * bytes) / GB} GB/s bidirectional, halved`, 'published'),
    latencyS: latency(10e-6, 'PCIe'),
    topology: 'pcie',
  };
}

const ATLAS_800T_A2: NodeSpec = {
  name: 'atlas-800t-a2',
  displayName: 'Atlas 800T A2 (8× Ascend 910B, training)',
  role: 'training',
  chip: ASCEND_910B,
  devicesPerNode: 8,
  intraNode: HCCS_910B,
  interNode: ROCE_200G,
  hostLink: PCIE4_X16_HOST,
  hostMemoryBytes: sourced(1 * TiB, 'assumed: 32 DIMMs × 32 GiB; host memory is configurable', 'assumed'),
};

const ATLAS_800I_A2: NodeSpec = {
  ...ATLAS_800T_A2,
  name: 'atlas-800i-a2',
  displayName: 'Atlas 800I A2 (8× Ascend 910B, inference)',
  role: 'inference',
  // targets.md lists the 800T A2 and 800I A2 together; the same chip figures are used for both.
  chip: ASCEND_910B,
};

/** A "node" of 300I Duo cards is one host CPU domain: 4 chips on 2 cards, PCIe only. */
const ATLAS_300I_DUO: NodeSpec = {
  name: 'atlas-300i-duo',
  displayName: 'Atlas 300I Duo ×2 (4× Ascend 310P in one CPU domain, inference)',
  role: 'inference',
  chip: ASCEND_310P,
  devicesPerNode: 4,
  intraNode: {
    name: 'PCIe 4.0 x16 (through the host)',
    bandwidth: sourced(31.5 * GB / 2, 'vendor spec: PCIe 4.0 ×16 per card (31.5 GB/s each way); assumed split evenly by its 2 chips', 'assumed'),
    latencyS: latency(10e-6, 'PCIe through the host CPU'),
    topology: 'pcie',
  },
  interNode: {
    name: 'Ethernet 100G (host NIC)',
    bandwidth: sourced(100 * GBIT_PER_S_IN_BYTES / 4, 'assumed: one 100 Gb/s host NIC shared by the 4 chips of a CPU domain (no RDMA on the card)', 'assumed'),
    latencyS: latency(30e-6, 'host TCP/IP'),
    topology: 'switch',
  },
  hostLink: {
    name: 'PCIe 4.0 x16',
    bandwidth: sourced(31.5 * GB / 2, 'vendor spec: PCIe 4.0 ×16 per card; assumed split evenly by its 2 chips', 'assumed'),
    latencyS: latency(10e-6, 'PCIe'),
    topology: 'pcie',
  },
  hostMemoryBytes: sourced(256 * GiB, 'assumed: host DRAM of one CPU domain', 'assumed'),
  pcieDomain: { chipsPerCard: 2, chipsPerCpuDomain: 4, source: 'Pangu Pro MoE paper: "four chips are controlled by one CPU"; vendor spec: 2 chips per card', confidence: 'published' },
};

/** CloudMatrix384: the UB plane reaches all 384 NPUs at one bandwidth, so the whole supernode is one "node". */
const CLOUDMATRIX_384: NodeSpec = {
  name: 'cloudmatrix384',
  displayName: 'CloudMatrix384 / Atlas 900 A3 SuperPoD (384× Ascend 910C over UB)',
  role: 'general',
  chip: ASCEND_910C,
  devicesPerNode: 384,
  intraNode: {
    name: 'UB',
    bandwidth: sourced(392 * GB, 'Huawei reports, conflicting (targets.md): ~392 GB/s per package unidirectional; another paper gives ~200 GB/s', 'published'),
    latencyS: latency(2e-6, 'UB'),
    topology: 'switch',
  },
  interNode: {
    name: 'RDMA 400G',
    bandwidth: sourced(400 * GBIT_PER_S_IN_BYTES, 'targets.md: 400 Gb/s RDMA per 910C', 'published'),
    latencyS: latency(10e-6, 'RDMA'),
    topology: 'switch',
  },
  hostLink: {
    name: 'PCIe 5.0 x16',
    bandwidth: sourced(64 * GB, 'assumed: NPU ↔ host over PCIe 5.0 ×16', 'assumed'),
    latencyS: latency(10e-6, 'PCIe'),
    topology: 'pcie',
  },
  hostMemoryBytes: sourced(48 * TiB, 'assumed: 48 servers × 1 TiB', 'assumed'),
};

const DGX_H100_DS = 'NVIDIA DGX H100 datasheet';
const HGX_H100: NodeSpec = {
  name: 'hgx-h100',
  displayName: 'HGX H100 (8× H100 SXM5, NVSwitch)',
  role: 'general',
  chip: NVIDIA_H100,
  devicesPerNode: 8,
  intraNode: nvlinkSwitch('NVLink 4', 900 * GB, 'NVIDIA H100 datasheet'),
  interNode: infiniband(400, DGX_H100_DS),
  hostLink: pcieHost(5, 'NVIDIA H100 datasheet'),
  hostMemoryBytes: sourced(2 * TB, `${DGX_H100_DS}: 2 TB system memory (HGX hosts vary)`, 'published'),
};

/**
 * NCCL on the H200's NVLink, fitted by fitIntraNodeTier to 32 collectives timed on 2 × H200
 * (tools/calibrate/data/h200-collectives-2.json: all-reduce, all-gather, reduce-scatter, all-to-all,
 * 1 KiB – 1 GiB). src/collective/fit-link.test.ts refits them and fails if these drift.
 */
const H200_NCCL_FIT = 'fitted by fitIntraNodeTier to tools/calibrate/data/h200-collectives-2.json (NCCL 2.28.9, 2 × H200, measured 2026-11-28)';
const HGX_H200_NVLINK_FIT = { efficiency: 0.669018735632495, callOverheadS: 0.000029327468333957924 } as const;

const HGX_H200: NodeSpec = {
  ...HGX_H100,
  name: 'hgx-h200',
  displayName: 'HGX H200 (8× H200 SXM, NVSwitch)',
  chip: NVIDIA_H200,
  intraNode: {
    ...nvlinkSwitch('NVLink 4', 900 * GB, 'NVIDIA H200 datasheet (targets.md: 18 links)'),
    efficiency: sourced(HGX_H200_NVLINK_FIT.efficiency, `${H200_NCCL_FIT}: large-message share of the link`, 'measured'),
    callOverheadS: sourced(HGX_H200_NVLINK_FIT.callOverheadS, `${H200_NCCL_FIT}: fixed cost per call (PyTorch + NCCL launch)`, 'measured'),
  },
  interNode: infiniband(400, 'NVIDIA DGX H200 datasheet'),
  hostLink: pcieHost(5, 'NVIDIA H200 datasheet'),
  hostMemoryBytes: sourced(2 * TB, 'NVIDIA DGX H200 datasheet: 2 TB system memory (HGX hosts vary)', 'published'),
};

const HGX_H800: NodeSpec = {
  ...HGX_H100,
  name: 'hgx-h800',
  displayName: 'HGX H800 (8× H800 SXM5, NVLink cut to 400 GB/s)',
  chip: NVIDIA_H800,
  intraNode: nvlinkSwitch('NVLink 4 (H800)', 400 * GB, 'NVIDIA H800 product brief'),
  interNode: infiniband(400, 'DeepSeek-V3 technical report, arXiv 2412.19437 §3.2 (H800 nodes, 50 GB/s IB per GPU)'),
};

const DGX_A100_DS = 'NVIDIA DGX A100 datasheet (640 GB system)';
const DGX_A100: NodeSpec = {
  name: 'dgx-a100',
  displayName: 'DGX A100 (8× A100 SXM4 80GB, NVSwitch)',
  role: 'general',
  chip: NVIDIA_A100,
  devicesPerNode: 8,
  intraNode: nvlinkSwitch('NVLink 3', 600 * GB, 'NVIDIA A100 datasheet'),
  interNode: infiniband(200, DGX_A100_DS),
  hostLink: pcieHost(4, 'NVIDIA A100 datasheet'),
  hostMemoryBytes: sourced(2 * TB, `${DGX_A100_DS}: 2 TB system memory`, 'published'),
};

/** A node preset and the other names it answers to. */
export interface NodePreset {
  spec: NodeSpec;
  aliases: readonly string[];
}

const PRESETS: readonly NodePreset[] = deepFreeze([
  { spec: ATLAS_800T_A2, aliases: [] },
  { spec: ATLAS_800I_A2, aliases: [] },
  { spec: ATLAS_300I_DUO, aliases: [] },
  { spec: CLOUDMATRIX_384, aliases: ['atlas-900-a3'] },
  { spec: HGX_H100, aliases: ['dgx-h100'] },
  { spec: HGX_H200, aliases: ['dgx-h200'] },
  { spec: HGX_H800, aliases: [] },
  { spec: DGX_A100, aliases: ['hgx-a100'] },
]);

/** Every node preset, in catalog order. */
export function listNodePresets(): readonly NodePreset[] {
  return PRESETS;
}

export function nodePresetNames(): string[] {
  return PRESETS.flatMap((p) => [p.spec.name, ...p.aliases]);
}

export function findNodePreset(name: string): NodeSpec | undefined {
  const key = name.trim().toLowerCase();
  return PRESETS.find((p) => p.spec.name === key || p.aliases.includes(key))?.spec;
}

/**
 * The issue of a name that is no node preset: the preset it is a typo of (`atlas800t-a2`, `hgx-h20`),
 * which a list of a dozen names leaves the reader to find, or else the list.
 */
export function unknownNodePresetIssue(name: string): FieldIssue {
  const meant = closestName(name.trim().toLowerCase(), nodePresetNames());
  const expected = meant === undefined ? `one of ${nodePresetNames().join(', ')}` : `a node preset; did you mean "${meant}"? (\`moge hw list\` lists them all)`;
  return { path: 'preset', received: name, expected };
}

/** A node preset by name or alias; a ValidationError names the preset meant or lists them otherwise. */
export function getNodePreset(name: string): NodeSpec {
  const spec = findNodePreset(name);
  if (!spec) throw new ValidationError('node preset', [unknownNodePresetIssue(name)]);
  return spec;
}

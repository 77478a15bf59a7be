import { z } from 'zod';
import { SourcedNumberSchema, type SourcedNumber } from '@moge/core';

/**
 * A hardware number with provenance. Files may give a bare number for convenience; it is then
 * recorded as `confidence: 'assumed'` from a user-supplied source, so no number is ever silent.
 * Every object of the catalog is strict: a misspelt field (`bandwith`, `sorce`) is an error, not a
 * field silently dropped while the preset's figure is used.
 */
export const SourcedValueSchema = z.union(
  [
    z.strictObject(SourcedNumberSchema.shape),
    z.number().transform((value): SourcedNumber => ({ value, source: 'user-supplied value', confidence: 'assumed' })),
  ],
  { error: 'a number, or { value, source, confidence }' },
);

/** A sourced number that must be > 0 (bandwidths, capacities). */
export const PositiveSourcedSchema = SourcedValueSchema.refine((s) => Number.isFinite(s.value) && s.value > 0, {
  message: 'a positive number (with source and confidence)',
});

/** A sourced number that must be ≥ 0 (latencies, peaks of unsupported formats = 0). */
export const NonNegativeSourcedSchema = SourcedValueSchema.refine((s) => Number.isFinite(s.value) && s.value >= 0, {
  message: 'a number ≥ 0 (with source and confidence)',
});

/**
 * How the devices of one tier are wired. `full-mesh`: a dedicated point-to-point link to every peer
 * (HCCS on 910B), so one peer gets only `bandwidth / links`; `switch`: any peer at full per-device
 * bandwidth (NVSwitch, UB, a network fabric); `pcie`: a shared PCIe tree through the host.
 */
export const TopologySchema = z.enum(['full-mesh', 'switch', 'pcie']);
export type Topology = z.infer<typeof TopologySchema>;

/** One tier of the communication hierarchy, seen from one device. */
export const LinkTierSchema = z
  .strictObject({
    /** Name of the technology, for display (`HCCS`, `NVLink 4`, `RoCE 200G`). */
    name: z.string().min(1),
    /** Unidirectional bandwidth per device in bytes/s, summed over all its links of this tier. */
    bandwidth: PositiveSourcedSchema,
    /** Start-up latency of one message step in seconds (the α of the α-β model). */
    latencyS: NonNegativeSourcedSchema,
    topology: TopologySchema,
    /** Point-to-point links per device; required for `full-mesh`, where one peer gets bandwidth / links. */
    links: z.number().int().positive().optional(),
    /**
     * Fraction of `bandwidth` that collectives reach on large messages (protocol headers, chunking,
     * the library's own copies). Left out where nobody has measured it: the link's full bandwidth.
     */
    efficiency: PositiveSourcedSchema.refine((s) => s.value <= 1, { message: 'a fraction in (0, 1]' }).optional(),
    /**
     * Fixed cost of one collective call on this tier (kernel launch, the handshake that starts it),
     * paid once per call rather than once per message step as `latencyS` is. Left out: 0.
     */
    callOverheadS: NonNegativeSourcedSchema.optional(),
  })
  .refine((t) => t.topology !== 'full-mesh' || t.links !== undefined, {
    // Read after "got …, expected": a noun phrase, then why.
    message: 'the number of point-to-point links per device (a full-mesh tier needs `links`: one peer gets bandwidth / links)',
    path: ['links'],
  });
export type LinkTier = z.output<typeof LinkTierSchema>;

/** Peak throughput of the matrix unit per numeric format; 0 means the chip has no such path. */
export const PeakFlopsSchema = z.strictObject({
  fp32: NonNegativeSourcedSchema,
  bf16: NonNegativeSourcedSchema,
  fp16: NonNegativeSourcedSchema,
  int8: NonNegativeSourcedSchema,
});
export type PeakFlops = z.output<typeof PeakFlopsSchema>;

/** Which efficiency profile (profiles/*.json) a chip uses, and why that one. */
export const ProfileRefSchema = z.strictObject({
  name: z.string().min(1),
  source: z.string().min(1),
  confidence: z.enum(['measured', 'published', 'assumed']),
});
export type ProfileRef = z.infer<typeof ProfileRefSchema>;

export const ChipSpecSchema = z.strictObject({
  name: z.string().regex(/^[a-z0-9][a-z0-9-]*$/, 'a lower-case name of letters, digits and dashes'),
  vendor: z.enum(['huawei', 'nvidia', 'other']),
  /** Marketing name, for display. */
  displayName: z.string().min(1),
  /** Dense peak of the matrix unit in FLOP/s (OP/s for int8). fp32 is the non-tensor rate elementwise work uses. */
  peakFlops: PeakFlopsSchema,
  /** Device memory in bytes (HBM, or LPDDR on 310P: the field keeps one name for every chip). */
  hbmBytes: PositiveSourcedSchema,
  /** Peak device-memory bandwidth in bytes/s. */
  hbmBandwidth: PositiveSourcedSchema,
  efficiencyProfile: ProfileRefSchema,
});
export type ChipSpec = z.output<typeof ChipSpecSchema>;
export type ChipSpecInput = z.input<typeof ChipSpecSchema>;

/**
 * PCIe-only inference cards (Atlas 300I Duo) group chips by card and by host CPU domain; the
 * planner uses these to keep a TP group inside one CPU domain.
 */
export const PcieDomainSchema = z.strictObject({
  chipsPerCard: z.number().int().positive(),
  chipsPerCpuDomain: z.number().int().positive(),
  source: z.string().min(1),
  confidence: z.enum(['measured', 'published', 'assumed']),
});
export type PcieDomain = z.infer<typeof PcieDomainSchema>;

export const NodeRoleSchema = z.enum(['training', 'inference', 'general']);

/** A node: the devices that share the fast intra-node tier, and how they reach the rest. */
export const NodeSpecSchema = z.strictObject({
  name: z.string().regex(/^[a-z0-9][a-z0-9-]*$/, 'a lower-case name of letters, digits and dashes'),
  displayName: z.string().min(1),
  role: NodeRoleSchema,
  chip: ChipSpecSchema,
  devicesPerNode: z.number().int().positive(),
  /** Device ↔ device inside the node. */
  intraNode: LinkTierSchema,
  /** Scale-out, per device (each device's share of the node's NICs). */
  interNode: LinkTierSchema,
  /** Device ↔ host memory (activation swap, offload). */
  hostLink: LinkTierSchema,
  /** Host DRAM of the whole node in bytes. */
  hostMemoryBytes: PositiveSourcedSchema,
  pcieDomain: PcieDomainSchema.optional(),
});
export type NodeSpec = z.output<typeof NodeSpecSchema>;
export type NodeSpecInput = z.input<typeof NodeSpecSchema>;

/** A set of identical nodes. With fewer devices than one node holds, it is part of one node. */
export interface Cluster {
  name: string;
  node: NodeSpec;
  numDevices: number;
  /** Devices used per node: min(numDevices, node.devicesPerNode). */
  devicesPerNode: number;
  numNodes: number;
}

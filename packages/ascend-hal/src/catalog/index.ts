export {
  SourcedValueSchema,
  TopologySchema,
  LinkTierSchema,
  PeakFlopsSchema,
  ProfileRefSchema,
  ChipSpecSchema,
  PcieDomainSchema,
  NodeRoleSchema,
  NodeSpecSchema,
  type Topology,
  type LinkTier,
  type PeakFlops,
  type ProfileRef,
  type ChipSpec,
  type ChipSpecInput,
  type PcieDomain,
  type NodeSpec,
  type NodeSpecInput,
  type Cluster,
} from './schemas';
export { listChips, findChip } from './chips';
export { listNodePresets, getNodePreset, findNodePreset, nodePresetNames, type NodePreset } from './nodes';
export { ClusterFileSchema, parseClusterSpec, parseNodeSpec, makeCluster, type ClusterFile, type ClusterSpecOptions } from './cluster';

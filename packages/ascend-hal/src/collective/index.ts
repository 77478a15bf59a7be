export {
  CollectiveOpSchema,
  CollectiveAlgorithmSchema,
  CollectiveRequestSchema,
  COLLECTIVE_BYTES_CONVENTION,
  type CollectiveOp,
  type CollectiveAlgorithm,
  type CollectiveRequest,
  type CollectiveEstimate,
  type TierCost,
  type TierName,
} from './schemas';
export { busBandwidthFactor, algToBusBandwidth, busToAlgBandwidth } from './bandwidth';
export { flatShape, peerBandwidth, bestOnTier, type FlatAlgorithm, type FlatShape } from './flat';
export { estimateCollective, groupLayout, applicableAlgorithms, phasesTime, type GroupLayout } from './estimate';
export { matrixSendBytes } from './all-to-allv';
export {
  estimateHierarchicalAllToAll,
  HierarchicalAllToAllRequestSchema,
  rankHitProbability,
  type HierarchicalAllToAllRequest,
  type HierarchicalAllToAllEstimate,
  type DispatchVolume,
} from './hierarchical-all-to-all';
export { tierBandwidth, tierCallOverhead } from './flat';
export {
  CollectiveBenchRowSchema,
  CollectiveBenchFileSchema,
  fitIntraNodeTier,
  parseCollectiveBenchFile,
  type CollectiveBenchRow,
  type CollectiveBenchFile,
  type IntraNodeFit,
} from './fit-link';

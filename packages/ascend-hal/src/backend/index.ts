export type {
  Backend,
  Tensor,
  TensorDType,
  HostArray,
  MatmulOptions,
  UnaryOp,
  BinaryOp,
  RmsNormResult,
  RmsNormGrads,
  GroupTopKResult,
} from './backend';

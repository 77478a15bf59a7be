/**
 * The runtime device interface that the model, trainer and server compute on.
 *
 * A `Tensor` is a handle owned by the backend that made it (device memory on an accelerator, a typed
 * array on the CPU backends). Data crosses the host boundary only through `fromArray` and `read`.
 * Every kernel is synchronous: CPU backends run in the caller's thread, and keeping the interface
 * synchronous lets the model be written top to bottom like llm.c, without a Promise per operator.
 *
 * Shapes are row-major. Unless stated otherwise, a kernel returns a new tensor and never mutates its
 * inputs; the `*Into`/`*InPlace` kernels are the explicit exceptions, used by optimizers and
 * gradient accumulation.
 */

export type TensorDType = 'f32' | 'i32';
export type HostArray = Float32Array | Int32Array;

/** Output buffers a `collectAllocations` call saw allocated (opaque; see `Backend.recycle`). */
export interface AllocationGroup {
  /** Bytes of the buffers in the group. */
  readonly byteLength: number;
}

export interface Tensor {
  readonly shape: readonly number[];
  readonly dtype: TensorDType;
  /** Number of elements (product of shape). */
  readonly size: number;
  /** The backend that owns it; passing a tensor to another backend throws. */
  readonly backend: string;
}

export interface MatmulOptions {
  /** Use Aᵀ: A is stored [K, M] (or [B, K, M]). */
  transA?: boolean;
  /** Use Bᵀ: B is stored [N, K] (or [B, N, K]). */
  transB?: boolean;
}

export type UnaryOp = 'silu' | 'exp' | 'neg' | 'sqrt' | 'rsqrt' | 'square' | 'sigmoid' | 'log' | 'abs' | 'relu';
export type BinaryOp = 'add' | 'sub' | 'mul' | 'div' | 'max';

export interface RmsNormResult {
  /** weight · x / sqrt(mean(x²) + ε), same shape as x. */
  y: Tensor;
  /** 1 / sqrt(mean(x²) + ε) per row, shape = x.shape without its last axis; kept for backward. */
  invRms: Tensor;
}

export interface RmsNormGrads {
  dx: Tensor;
  /** Gradient of the weight, shape [D] (summed over rows). */
  dWeight: Tensor;
}

export interface GroupTopKResult {
  /** [T, K] expert ids, group-major (group 0 first), best-first inside a group. */
  ids: Tensor;
  /** [T, K] the selected scores, in the same order. */
  values: Tensor;
}

export interface Backend {
  /** Registry name, e.g. 'reference' or 'onnxruntime'. */
  readonly name: string;

  // ---- buffers -------------------------------------------------------------------------------
  /** Copies (or adopts, on CPU backends) host data into a tensor of `shape`. */
  fromArray(data: HostArray | readonly number[], shape: readonly number[], dtype?: TensorDType): Tensor;
  zeros(shape: readonly number[], dtype?: TensorDType): Tensor;
  full(shape: readonly number[], value: number): Tensor;
  /** Host copy of the data (a CPU backend may return its own storage: treat it as read-only). */
  read(t: Tensor): HostArray;
  /** Same data, another shape with the same element count (no copy). */
  reshape(t: Tensor, shape: readonly number[]): Tensor;
  /**
   * A constant with `t`'s values: a tensor no kernel may write. Every in-place kernel (axpyInPlace,
   * scatterAddRows, writeColumns) throws when handed one as its destination, naming itself; every
   * reading kernel accepts it like any tensor, and `reshape` of a constant is a constant. The values
   * are the backend's own copy (later writes to `t` do not reach it; `read` of a constant returns a
   * copy), so a backend may prepare it once for its kernels — onnxruntime bakes a constant matmul
   * weight into a session as an initializer, which MLAS pre-packs at load instead of on every call.
   * Use it for inference weights; parameters an optimizer updates stay ordinary tensors.
   */
  constant(t: Tensor): Tensor;
  /** Whether `t` is a constant (made by `constant`, or a reshape of one). */
  isConstant(t: Tensor): boolean;
  /** Releases device memory early; optional for garbage-collected CPU backends. */
  dispose?(t: Tensor): void;
  /**
   * Optional, with `recycle`: runs `fn` and returns its result with the group of output buffers that
   * kernels allocated meanwhile. A caller that knows when those tensors die (a layer's activations,
   * after that layer's backward) hands the group to `recycle` so later kernels reuse the memory
   * instead of the garbage collector finding it.
   */
  collectAllocations?<T>(fn: () => T): { result: T; group: AllocationGroup };
  /**
   * Optional: makes the group's buffers available to later kernels, except those under `keep`
   * (tensors or host arrays, views included), and returns the kept ones as a group of their own.
   * Every other tensor or `read` view on the group's buffers is invalid afterwards. Once per group.
   */
  recycle?(group: AllocationGroup, keep?: Iterable<Tensor | HostArray>): AllocationGroup;

  // ---- matrix products -----------------------------------------------------------------------
  /**
   * C = op(A) · op(B). 2-D: [M,K]·[K,N] → [M,N]. Batched: [B,M,K]·[B,K,N] → [B,M,N]; a 2-D operand is
   * broadcast over the batch.
   */
  matmul(a: Tensor, b: Tensor, options?: MatmulOptions): Tensor;
  /**
   * Optional: 2-D op(A)·op(B) + bias, `bias` [N] added to every row ([M, N]). A linear layer with a
   * bias in one call: backends that fuse the add (a Gemm's C input) skip a pass over the output.
   */
  matmulBias?(a: Tensor, b: Tensor, bias: Tensor, options?: MatmulOptions): Tensor;
  /**
   * Grouped matmul over expert segments: rows offsets[g]..offsets[g+1] of x ([T, K]) are multiplied by
   * w[g] ([G, K, N], or [G, N, K] with transB) → [T, N]. `offsets` has G+1 non-decreasing entries,
   * offsets[0] = 0, offsets[G] = T. Empty segments are allowed.
   */
  groupedMatmul(x: Tensor, w: Tensor, offsets: Int32Array, options?: { transB?: boolean }): Tensor;
  /**
   * Weight gradient of the grouped matmul: for each g, dW[g] = x_gᵀ · dy_g ([G, K, N]).
   * x: [T, K], dy: [T, N].
   */
  groupedMatmulWeightGrad(x: Tensor, dy: Tensor, offsets: Int32Array): Tensor;

  // ---- elementwise ---------------------------------------------------------------------------
  unary(op: UnaryOp, a: Tensor): Tensor;
  /** a ∘ b with NumPy broadcasting of b into a's shape (b right-aligned, each of its axes equal to a's or 1). */
  binary(op: BinaryOp, a: Tensor, b: Tensor): Tensor;
  /** a · s + t for scalars s, t. */
  affine(a: Tensor, scale: number, shift?: number): Tensor;
  /** SwiGLU: silu(gate) · up. */
  swiglu(gate: Tensor, up: Tensor): Tensor;
  /** Backward of SwiGLU: returns [dGate, dUp]. */
  swigluBackward(gate: Tensor, up: Tensor, dy: Tensor): [Tensor, Tensor];
  /** dst += alpha · src, in place (gradient accumulation, optimizer updates). */
  axpyInPlace(dst: Tensor, src: Tensor, alpha?: number): void;

  // ---- reductions ------------------------------------------------------------------------------
  /** Sum over `axis` (negative counts from the end); the axis is removed. */
  sum(a: Tensor, axis: number): Tensor;
  /** Max over `axis`; the axis is removed. */
  max(a: Tensor, axis: number): Tensor;
  /** Sum of all elements (as a host number, computed in float64). */
  sumAll(a: Tensor): number;

  // ---- normalisation and attention pieces ------------------------------------------------------
  /**
   * Softmax over the last axis, in fp32 with max subtraction. With `causal`, `a` is [..., Sq, Sk] and
   * query i may attend keys j ≤ i + (Sk − Sq) (the usual decode offset); masked entries are 0.
   */
  softmax(a: Tensor, options?: { causal?: boolean }): Tensor;
  /** dx = y · (dy − Σ dy·y) over the last axis. */
  softmaxBackward(y: Tensor, dy: Tensor): Tensor;
  /** Log-softmax over the last axis. */
  logSoftmax(a: Tensor): Tensor;
  rmsNorm(x: Tensor, weight: Tensor, eps: number): RmsNormResult;
  rmsNormBackward(x: Tensor, weight: Tensor, invRms: Tensor, dy: Tensor): RmsNormGrads;
  /**
   * Rotary embedding, rotate-half layout (first half / second half of each head), on x: [T, H, D],
   * token t at position positions[t]; inv_freq_i = θ^(−2i/D). `inverse` applies the transpose
   * rotation (the backward pass).
   */
  rope(x: Tensor, positions: Int32Array, theta: number, options?: { inverse?: boolean }): Tensor;

  // ---- indexing --------------------------------------------------------------------------------
  /** out[i] = table[index[i]] row-wise: table [V, D] → [n, D]. */
  gatherRows(table: Tensor, index: Int32Array): Tensor;
  /** dst[index[i]] += src[i] row-wise, in place; repeated indices accumulate. */
  scatterAddRows(dst: Tensor, index: Int32Array, src: Tensor): void;
  /** Copies a [rows, D] tensor's columns [start, start+width) → [rows, width]. */
  sliceColumns(a: Tensor, start: number, width: number): Tensor;
  /** Concatenates [rows, D_i] tensors along the columns. */
  concatColumns(parts: readonly Tensor[]): Tensor;
  /**
   * Optional: copies `src` [rows, w] into columns [start, start + w) of `dst` [rows, D], in place (same
   * dtype; leading axes count as rows, like sliceColumns). A KV cache with spare capacity appends a
   * decode step with it instead of re-copying everything it holds through concatColumns.
   */
  writeColumns?(dst: Tensor, src: Tensor, start: number): void;
  /** Permutes axes (general transpose), e.g. [T, H, D] → [H, T, D] with perm [1, 0, 2]. */
  transpose(a: Tensor, perm: readonly number[]): Tensor;
  /**
   * Per-group top-k over the last axis: `scores` [T, E] with E = groups · groupSize; in every group
   * take the `kPerGroup` largest (ties → lower index first). Ids are group-major, best-first.
   * Non-finite scores in torch.topk's order: NaN above every number (NaNs among themselves → lower
   * index, as torch.sort(descending=True, stable=True)), then +∞, the numbers, −∞. A NaN score is
   * selected, never skipped, so a diverged router's NaN reaches the weights and the loss.
   */
  groupTopK(scores: Tensor, groups: number, kPerGroup: number): GroupTopKResult;
}

/*
 * The ABI of libmoge_kernels (every native/*.c, linked into one library by scripts/build-native.mjs):
 * bumped whenever a function is added or a signature changes, so that a library built from other
 * sources is refused by src/backend/native/native-kernels.ts rather than called wrongly.
 * 2: one-row products. 3: data movement (copy runs, gather rows). 4: SwiGLU backward.
 * 5: vector kernels per instruction set (few-row products, SwiGLU, softmax, RMSNorm, affine, axpy).
 */
int moge_kernels_abi(void) { return 5; }

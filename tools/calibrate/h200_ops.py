#!/usr/bin/env python3
"""Operator microbenchmarks on one NVIDIA GPU (bf16), for calibrating @moge/ascend-hal's operator model.

Run on the device machine:  python3 tools/calibrate/h200_ops.py --out $OUT/h200-ops.json
Each row: mean of `--reps` runs after `--warmup` warm-ups, timed with CUDA events (one launch per timing
for big kernels, a loop of launches for tiny ones so the event resolution does not dominate).
"""
import argparse, json, platform, time
import torch
from cuda_timing import cuda_times, median
import torch.nn.functional as F

p = argparse.ArgumentParser()
p.add_argument('--out', required=True)
p.add_argument('--reps', type=int, default=20)
p.add_argument('--warmup', type=int, default=5)
args = p.parse_args()
dev = torch.device('cuda')
torch.backends.cuda.matmul.allow_tf32 = False


def timeit(fn, reps=args.reps, warmup=args.warmup, inner=1):
    times = cuda_times(fn, reps, warmup, inner)
    return sum(times) / len(times), median(times)


rows = {'matmul': [], 'batched_matmul': [], 'attention': [], 'memory': [], 'meta': {}}
rows['meta'] = {
    'device': torch.cuda.get_device_name(0), 'torch': torch.__version__, 'cuda': torch.version.cuda,
    'host': platform.node(), 'reps': args.reps, 'warmup': args.warmup, 'dtype': 'bf16',
    'date': time.strftime('%Y-%m-%d'),
}

kn = [(5120, 5120), (5120, 1024), (5120, 2688), (1344, 5120), (5120, 10752), (2688, 5120),
      (7680, 2048), (2048, 7680), (7680, 18432), (18432, 7680), (8192, 8192), (5120, 153376), (4096, 4096)]
ms = [1, 8, 32, 64, 128, 256, 512, 1024, 2048, 4096, 8192, 16384, 32768]
for (k, n) in kn:
    for m in ms:
        if m * n > 32768 * 20000 and n > 100000 and m > 8192:
            continue
        a = torch.randn(m, k, device=dev, dtype=torch.bfloat16)
        b = torch.randn(k, n, device=dev, dtype=torch.bfloat16)
        inner = 20 if m * k * n < 2e9 else 1
        mean, med = timeit(lambda: a @ b, inner=inner)
        rows['matmul'].append({'m': m, 'k': k, 'n': n, 'meanS': mean, 'medianS': med,
                               'tflops': 2 * m * k * n / mean / 1e12})
        del a, b
    torch.cuda.empty_cache()

# Grouped-matmul proxy: equal segments as one batched matmul (what a grouped GEMM does at best).
for (g, tokens, k, n) in [(8, 512, 5120, 2688), (8, 4096, 5120, 2688), (64, 64, 5120, 2688), (64, 512, 5120, 2688),
                          (32, 1024, 7680, 4096), (32, 128, 7680, 4096), (8, 4096, 1344, 5120)]:
    a = torch.randn(g, tokens, k, device=dev, dtype=torch.bfloat16)
    b = torch.randn(g, k, n, device=dev, dtype=torch.bfloat16)
    mean, med = timeit(lambda: torch.bmm(a, b), inner=5)
    rows['batched_matmul'].append({'groups': g, 'm': tokens, 'k': k, 'n': n, 'meanS': mean, 'medianS': med,
                                   'tflops': 2 * g * tokens * k * n / mean / 1e12})
    del a, b
torch.cuda.empty_cache()

# Causal flash attention (SDPA), GQA expanded to full heads as SDPA needs; forward and forward+backward.
for (b, s, hq, hkv, d) in [(1, 4096, 40, 8, 128), (2, 4096, 40, 8, 128), (1, 8192, 40, 8, 128), (4, 2048, 40, 8, 128),
                           (1, 4096, 128, 128, 128)]:
    q = torch.randn(b, hq, s, d, device=dev, dtype=torch.bfloat16, requires_grad=True)
    kk = torch.randn(b, hq, s, d, device=dev, dtype=torch.bfloat16, requires_grad=True)
    v = torch.randn(b, hq, s, d, device=dev, dtype=torch.bfloat16, requires_grad=True)
    fwd = lambda: F.scaled_dot_product_attention(q, kk, v, is_causal=True)
    mean_f, med_f = timeit(fwd)
    out = fwd()
    grad = torch.randn_like(out)
    def fb():
        o = F.scaled_dot_product_attention(q, kk, v, is_causal=True)
        o.backward(grad)
    mean_fb, med_fb = timeit(fb)
    flops_fwd = 4 * b * hq * s * s * d / 2  # QK^T and PV, causal half
    rows['attention'].append({'batch': b, 'seq': s, 'heads': hq, 'kvHeads': hkv, 'headDim': d, 'causal': True,
                              'forwardS': mean_f, 'forwardBackwardS': mean_fb, 'forwardFlops': flops_fwd,
                              'forwardTflops': flops_fwd / mean_f / 1e12})
    del q, kk, v, out, grad
torch.cuda.empty_cache()

# Memory-bound kernels: copy, SiLU, RMSNorm-like, at several sizes (bytes = read + write).
for elems in [1 << 20, 1 << 24, 1 << 27, 1 << 29]:
    x = torch.randn(elems, device=dev, dtype=torch.bfloat16)
    y = torch.empty_like(x)
    mean, _ = timeit(lambda: y.copy_(x), inner=10)
    rows['memory'].append({'kernel': 'copy', 'elements': elems, 'bytes': 4 * elems, 'meanS': mean,
                           'bytesPerS': 4 * elems / mean})
    mean, _ = timeit(lambda: F.silu(x), inner=10)
    rows['memory'].append({'kernel': 'silu', 'elements': elems, 'bytes': 4 * elems, 'meanS': mean,
                           'bytesPerS': 4 * elems / mean})
    x2 = x.view(-1, 4096) if elems >= 4096 else x.view(1, -1)
    w = torch.ones(x2.shape[1], device=dev, dtype=torch.bfloat16)
    mean, _ = timeit(lambda: F.rms_norm(x2, (x2.shape[1],), w), inner=10)
    rows['memory'].append({'kernel': 'rmsnorm', 'elements': elems, 'bytes': 4 * elems, 'meanS': mean,
                           'bytesPerS': 4 * elems / mean})
    del x, y, x2
torch.cuda.empty_cache()

# Launch overhead: a tiny kernel.
t = torch.zeros(1, device=dev)
mean, _ = timeit(lambda: t.add_(1), inner=200)
rows['meta']['tinyKernelS'] = mean

with open(args.out, 'w') as f:
    json.dump(rows, f, indent=1)
print(json.dumps({k: len(v) if isinstance(v, list) else v for k, v in rows.items()}, indent=1))

"""Checks the simulator's unfused elementwise model (packages/sim/src/common/elementwise-kernels.ts).

For each memory-bound operator family that MindSpeed can fuse (RMSNorm, rotary embedding, SwiGLU, MoE
token permute / unpermute), runs the standard unfused PyTorch / Megatron-core implementation, forward
and backward through autograd, and records:

  - the kernels it launches (torch.profiler, CUDA kernel events), to set beside the simulator's
    launch counts;
  - its time at Pangu Pro's PRO-T1 "before" shapes (TP1 x CP8: 512 tokens on a device) and at 16x
    as many tokens, where the chain is bandwidth-bound;
  - the effective HBM bytes per element at the large shape, time x the copy bandwidth measured in
    the same run, to set beside the simulator's byte counts.

This is a check on NVIDIA H200 of counts the simulator uses for Ascend 910B: the op chains are the
same code on both, the per-kernel cost is not. Nothing is fitted from it.

  python3 tools/calibrate/h200_unfused_elementwise.py --compiled --out tools/calibrate/data/h200-unfused-elementwise.json
"""

import argparse
import json
import time

import torch
import torch.nn.functional as F

HIDDEN = 5120  # Pangu Pro MoE
HEADS, KV_HEADS, HEAD_DIM = 40, 8, 128
EXPERT_FFN, SHARED_FFN, TOP_K, EXPERTS = 1344, 5376, 8, 64


def rmsnorm_unfused(x, w, eps=1e-5):
    # MindSpeed-LLM RMSNorm without --use-fused-rmsnorm (the Llama reference).
    xf = x.float()
    out = xf * torch.rsqrt(xf.pow(2).mean(-1, keepdim=True) + eps)
    return out.type_as(x) * w


def rotate_half(x):
    x1, x2 = torch.chunk(x, 2, dim=-1)
    return torch.cat((-x2, x1), dim=-1)


def rope_unfused(t, cos_, sin_):
    # Megatron-core _apply_rotary_pos_emb_bshd, full rotary dimension (cos/sin precomputed: both paths do).
    rot_dim = cos_.shape[-1]
    t, t_pass = t[..., :rot_dim], t[..., rot_dim:]
    t = (t * cos_) + (rotate_half(t) * sin_)
    return torch.cat((t, t_pass), dim=-1)


def swiglu_unfused(x):
    a, b = torch.chunk(x, 2, dim=-1)
    return F.silu(a) * b


def permute_unfused(tokens, indices):
    # Megatron-core moe_utils.permute (argsort version).
    topk = indices.size(1)
    sorted_indices = torch.argsort(indices.view(-1), stable=True)
    return tokens.index_select(0, sorted_indices // topk), sorted_indices


def unpermute_unfused(permuted, sorted_indices, probs):
    # Megatron-core moe_utils.unpermute (index_copy_ version), probs multiply separate.
    topk = probs.size(1)
    out = torch.zeros([probs.numel(), permuted.shape[-1]], dtype=permuted.dtype, device=permuted.device)
    out.index_copy_(0, sorted_indices, permuted)
    out = out.reshape(-1, topk, permuted.size(-1))
    out = out * probs.unsqueeze(-1)
    return out.sum(dim=1)


def cases(tokens, dev):
    bf = torch.bfloat16
    g = torch.Generator(device=dev).manual_seed(0)

    def rand(*shape, grad=True, dtype=bf):
        return torch.randn(*shape, device=dev, dtype=dtype, generator=g).requires_grad_(grad)

    freqs = torch.rand(tokens, 1, 1, HEAD_DIM, device=dev, generator=g)
    cos_, sin_ = torch.cos(freqs).to(bf), torch.sin(freqs).to(bf)
    indices = torch.randint(0, EXPERTS, (tokens, TOP_K), device=dev, generator=g)
    out = []
    x, w = rand(tokens, HIDDEN), rand(HIDDEN)
    out.append(("rmsnorm", tokens * HIDDEN, lambda: rmsnorm_unfused(x, w), [x, w]))
    # Queries and keys are two calls of the same chain; one call on all their heads has the same bytes
    # per element and half the launches of the pair.
    qk = rand(tokens, 1, HEADS + KV_HEADS, HEAD_DIM)
    out.append(("rope", tokens * (HEADS + KV_HEADS) * HEAD_DIM, lambda: rope_unfused(qk, cos_, sin_), [qk]))
    h = rand(tokens * TOP_K, 2 * EXPERT_FFN)
    out.append(("swiglu", tokens * TOP_K * EXPERT_FFN, lambda: swiglu_unfused(h), [h]))
    t = rand(tokens, HIDDEN)
    out.append(("permute", tokens * TOP_K * HIDDEN, lambda: permute_unfused(t, indices)[0], [t]))
    p, probs = rand(tokens * TOP_K, HIDDEN), rand(tokens, TOP_K)
    sorted_indices = torch.argsort(indices.view(-1), stable=True)
    out.append(("unpermute", tokens * TOP_K * HIDDEN, lambda: unpermute_unfused(p, sorted_indices, probs), [p, probs]))
    return out


def sync(dev):
    if dev == "cuda":
        torch.cuda.synchronize()


def timed(fn, dev, reps):
    fn()
    sync(dev)
    t0 = time.perf_counter()
    for _ in range(reps):
        fn()
    sync(dev)
    return (time.perf_counter() - t0) / reps


def kernels(fn, dev):
    """Kernels launched by fn (CUDA kernel events; on CPU, top-level aten ops as a stand-in)."""
    acts = [torch.profiler.ProfilerActivity.CPU] + ([torch.profiler.ProfilerActivity.CUDA] if dev == "cuda" else [])
    with torch.profiler.profile(activities=acts) as prof:
        fn()
        sync(dev)
    if dev == "cuda":
        evs = [e for e in prof.events() if e.device_type == torch.autograd.DeviceType.CUDA]
        return len(evs), sorted({e.name[:60] for e in evs})
    evs = [e for e in prof.events() if e.name.startswith("aten::") and e.cpu_parent is None]
    return len(evs), sorted({e.name for e in evs})


def measure(tokens, dev, reps, compiled=False):
    rows = []
    for name, elements, fwd, leaves in cases(tokens, dev):
        if compiled:
            # torch.compile fuses each chain into a few generated kernels: a stand-in for the fused
            # kernels of MindSpeed (one npu_* kernel each way), to compare the difference with.
            fwd = torch.compile(fwd, dynamic=False)
        y = fwd()
        dy = torch.randn_like(y)

        def fwd_bwd():
            for leaf in leaves:
                leaf.grad = None
            fwd().backward(dy)

        fwd_s = timed(lambda: fwd().detach(), dev, reps)
        total_s = timed(fwd_bwd, dev, reps)
        n_fwd, names_fwd = kernels(lambda: fwd().detach(), dev)
        n_all, names_all = kernels(fwd_bwd, dev)
        rows.append(
            {
                "op": name,
                "compiled": compiled,
                "tokens": tokens,
                "elements": elements,
                "forwardS": fwd_s,
                "backwardS": total_s - fwd_s,
                "forwardKernels": n_fwd,
                "backwardKernels": n_all - n_fwd,
                "forwardKernelNames": names_fwd,
                "allKernelNames": names_all,
            }
        )
    return rows


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    ap.add_argument("--tokens", type=int, default=512, help="PRO-T1 before: 4096 / CP8")
    ap.add_argument("--large", type=int, default=16, help="multiple of --tokens for the bandwidth-bound run")
    ap.add_argument("--reps", type=int, default=50)
    ap.add_argument("--compiled", action="store_true", help="also time each chain under torch.compile (fused stand-in) at --tokens")
    args = ap.parse_args()
    dev = "cuda" if torch.cuda.is_available() else "cpu"
    big = torch.empty(256 * 2**20, dtype=torch.uint8, device=dev)
    copy_s = timed(lambda: big.clone(), dev, args.reps)
    copy_bw = 2 * big.numel() / copy_s  # bytes read + written per second
    # Per-kernel cost of a chain of tiny kernels (launch-bound): 200 adds on one element.
    one = torch.zeros(1, device=dev)

    def chain():
        z = one
        for _ in range(200):
            z = z + 1
        return z

    per_kernel_s = timed(chain, dev, args.reps) / 200
    small = measure(args.tokens, dev, args.reps)
    large = measure(args.tokens * args.large, dev, max(5, args.reps // 5))
    compiled = measure(args.tokens, dev, args.reps, compiled=True) if args.compiled else []
    for r in large:
        # Time minus the launch floor, at the copy bandwidth: the HBM bytes the chain moved, per element.
        for phase, key in (("forward", "forwardS"), ("backward", "backwardS")):
            kern = r[f"{phase}Kernels"]
            r[f"{phase}EffectiveBytesPerElement"] = max(0.0, r[key] - kern * per_kernel_s) * copy_bw / r["elements"]
    meta = {
        "device": torch.cuda.get_device_name() if dev == "cuda" else "cpu",
        "torch": torch.__version__,
        "copyBandwidthBytesPerS": copy_bw,
        "perKernelChainS": per_kernel_s,
        "date": time.strftime("%Y-%m-%d"),
        "method": "eager PyTorch, bf16; forward and forward+backward through autograd timed over reps after one warm-up; kernels counted with torch.profiler",
    }
    with open(args.out + ".tmp", "w") as f:
        json.dump({"meta": meta, "small": small, "large": large, "compiledSmall": compiled}, f, indent=1)
    import os

    os.replace(args.out + ".tmp", args.out)
    for r in small + large + compiled:
        print(f"{'compiled ' if r['compiled'] else ''}{r['op']:10s} tokens {r['tokens']:6d}  fwd {r['forwardS']*1e6:8.1f} us ({r['forwardKernels']:2d} kernels)  bwd {r['backwardS']*1e6:8.1f} us ({r['backwardKernels']:2d} kernels)"
              + (f"  eff bytes/elem fwd {r['forwardEffectiveBytesPerElement']:.1f} bwd {r['backwardEffectiveBytesPerElement']:.1f}" if 'forwardEffectiveBytesPerElement' in r else ""))
    print(json.dumps(meta))


if __name__ == "__main__":
    main()

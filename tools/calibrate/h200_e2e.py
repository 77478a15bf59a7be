"""End-to-end prefill and decode step times of transformer layer stacks on one NVIDIA H200 (bf16).

Why: the operator and collective microbenchmarks (h200_ops.py, h200_collectives.py) calibrate the
cost models; this script measures whole prefill / decode steps so the inference simulator can be
*checked* (not fitted) against real execution, for a dense and a MoGE model, on hardware other than
the Ascend cards the papers report.

What runs: `num_layers` decoder layers of the given architecture (GQA attention with q/k/v/o biases,
RoPE omitted — elementwise and negligible here —, RMSNorm, SwiGLU FFN or MoGE experts with a shared
expert), embedding lookup skipped, LM head included. The per-layer time is the stack time divided
by the layer count after subtracting the head, so results extrapolate to the full depth.
Decode runs under a CUDA graph (as serving engines such as vLLM do); prefill runs eagerly.
MoE experts use torch._grouped_mm over tokens sorted by expert (one kernel for all experts) when
available, else a loop over experts (recorded in the output as `expertKernel`).

Output JSON: {device, torch, cases: [{name, arch (MoeArch field names), phase, batch, inputLength,
contextLength, layersRun, stepS, perLayerS, headS}]}.
"""
import argparse
import json
import time

import torch
import torch.nn.functional as F

DEV = "cuda"
DT = torch.bfloat16


def rms(x, w, eps=1e-6):
    v = x.float().pow(2).mean(-1, keepdim=True)
    return (x.float() * torch.rsqrt(v + eps)).to(x.dtype) * w


class Layer:
    def __init__(self, a, max_ctx, batch):
        h, hq, hkv, d = a["hiddenSize"], a["numHeads"], a["numKvHeads"], a["headDim"]
        g = lambda *s: torch.randn(*s, device=DEV, dtype=DT) * 0.02
        self.a = a
        self.wqkv = g((hq + 2 * hkv) * d, h)
        self.bqkv = g((hq + 2 * hkv) * d)
        self.wo = g(h, hq * d)
        self.bo = g(h)
        self.n1 = torch.ones(h, device=DEV, dtype=DT)
        self.n2 = torch.ones(h, device=DEV, dtype=DT)
        self.moe = a["numExperts"] > 0
        if self.moe:
            e, f = a["numExperts"], a["expertFfnSize"]
            self.gate = g(e, h)
            self.w13 = g(e, h, 2 * f)  # [E, K, N] for grouped_mm
            self.w2 = g(e, f, h)
            fs = a["sharedExpertFfnSize"]
            self.s13 = g(2 * fs, h) if fs > 0 else None
            self.s2 = g(h, fs) if fs > 0 else None
        else:
            f = a["denseFfnSize"]
            self.w13 = g(2 * f, h)
            self.w2 = g(h, f)
        self.kc = torch.zeros(batch, hkv, max_ctx, d, device=DEV, dtype=DT)
        self.vc = torch.zeros(batch, hkv, max_ctx, d, device=DEV, dtype=DT)

    def attention(self, x, pos0):
        a = self.a
        b, s, _ = x.shape
        hq, hkv, d = a["numHeads"], a["numKvHeads"], a["headDim"]
        qkv = F.linear(x, self.wqkv, self.bqkv)
        q, k, v = qkv.split([hq * d, hkv * d, hkv * d], dim=-1)
        q = q.view(b, s, hq, d).transpose(1, 2)
        k = k.view(b, s, hkv, d).transpose(1, 2)
        v = v.view(b, s, hkv, d).transpose(1, 2)
        if s > 1:  # prefill: causal attention over the prompt, cache written
            self.kc[:, :, :s] = k
            self.vc[:, :, :s] = v
            o = F.scaled_dot_product_attention(q, k, v, is_causal=True, enable_gqa=True)
        else:  # decode: attend over a full cache of pos0 + 1 positions (static length for the graph)
            self.kc[:, :, pos0] = k[:, :, 0]
            self.vc[:, :, pos0] = v[:, :, 0]
            o = F.scaled_dot_product_attention(
                q, self.kc[:, :, : pos0 + 1], self.vc[:, :, : pos0 + 1], enable_gqa=True
            )
        return F.linear(o.transpose(1, 2).reshape(b, s, hq * d), self.wo, self.bo)

    def ffn(self, x):
        a = self.a
        shape = x.shape
        t = x.reshape(-1, shape[-1])
        if not self.moe:
            gu = F.linear(t, self.w13)
            gg, u = gu.chunk(2, dim=-1)
            return F.linear(F.silu(gg) * u, self.w2).view(shape)
        e, groups, k = a["numExperts"], a["numExpertGroups"], a["topK"]
        logits = F.linear(t, self.gate).float()
        p = logits.softmax(-1).view(-1, groups, e // groups)
        w, idx = p.topk(k // groups, dim=-1)  # MoGE: K/M experts per group
        idx = (idx + torch.arange(groups, device=DEV).view(1, groups, 1) * (e // groups)).view(-1, k)
        w = w.view(-1, k).to(DT)
        flat = idx.view(-1)
        order = flat.argsort()
        tok = order // k
        xs = t[tok]
        # scatter_add rather than bincount: bincount syncs with the host, which a CUDA graph forbids
        counts = torch.zeros(e, device=DEV, dtype=torch.int64).scatter_add_(0, flat, torch.ones_like(flat))
        offs = counts.cumsum(0).to(torch.int32)
        if hasattr(torch, "_grouped_mm"):
            gu = torch._grouped_mm(xs, self.w13, offs=offs)
            gg, u = gu.chunk(2, dim=-1)
            y = torch._grouped_mm((F.silu(gg) * u).contiguous(), self.w2, offs=offs)
        else:  # pragma: no cover - older torch
            y = torch.empty_like(xs)
            start = 0
            for i, c in enumerate(counts.tolist()):
                if c:
                    gu = xs[start : start + c] @ self.w13[i]
                    gg, u = gu.chunk(2, dim=-1)
                    y[start : start + c] = (F.silu(gg) * u) @ self.w2[i]
                start += c
        out = torch.zeros_like(t)
        out.index_add_(0, tok, y * w.view(-1)[order].unsqueeze(-1))
        if self.s13 is not None:
            gu = F.linear(t, self.s13)
            gg, u = gu.chunk(2, dim=-1)
            out = out + F.linear(F.silu(gg) * u, self.s2)
        return out.view(shape)

    def __call__(self, x, pos0):
        x = x + self.attention(rms(x, self.n1), pos0)
        return x + self.ffn(rms(x, self.n2))


def timed(fn, iters):
    for _ in range(3):
        fn()
    torch.cuda.synchronize()
    start = torch.cuda.Event(enable_timing=True)
    end = torch.cuda.Event(enable_timing=True)
    start.record()
    for _ in range(iters):
        fn()
    end.record()
    torch.cuda.synchronize()
    return start.elapsed_time(end) / 1000 / iters


def run_case(name, a, layers_run, phase, batch, input_len, ctx, use_graph):
    torch.manual_seed(0)
    max_ctx = max(ctx, input_len) + 1
    stack = [Layer(a, max_ctx, batch) for _ in range(layers_run)]
    head = torch.randn(a["vocabSize"], a["hiddenSize"], device=DEV, dtype=DT) * 0.02
    s = input_len if phase == "prefill" else 1
    x = torch.randn(batch, s, a["hiddenSize"], device=DEV, dtype=DT)
    pos0 = ctx - 1

    def layers_only():
        y = x
        for layer in stack:
            y = layer(y, pos0)
        return y

    def head_only():
        return F.linear(x[:, -1], head)

    def step():
        return F.linear(layers_only()[:, -1], head)

    fn = step
    if use_graph:
      try:
        g = torch.cuda.CUDAGraph()
        s_ = torch.cuda.Stream()
        s_.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(s_):
            for _ in range(3):
                step()
        torch.cuda.current_stream().wait_stream(s_)
        with torch.cuda.graph(g):
            step()
        fn = g.replay
      except Exception as err:  # capture failed: measure eagerly and say so in the output
        print(f"cuda graph capture failed for {name}: {err}", flush=True)
        torch.cuda.synchronize()
        use_graph = False
    iters = 20 if phase == "prefill" else 50
    step_s = timed(fn, iters)
    head_s = timed(head_only, iters)
    del stack
    torch.cuda.empty_cache()
    return {
        "name": name,
        "arch": a,
        "phase": phase,
        "batch": batch,
        "inputLength": input_len if phase == "prefill" else 1,
        "contextLength": ctx,
        "layersRun": layers_run,
        "cudaGraph": use_graph,
        "expertKernel": ("grouped_mm" if hasattr(torch, "_grouped_mm") else "loop") if a["numExperts"] else None,
        "stepS": step_s,
        "headS": head_s,
        "perLayerS": (step_s - head_s) / layers_run,
    }


# Architectures in @moge/core MoeArch field names, restated from packages/model/src/presets/presets.ts
# (dense-32b and pangu-pro-moe) at the time of measurement.
ARCHS = {
    "dense-32b": dict(numLayers=64, hiddenSize=5120, numHeads=40, numKvHeads=8, headDim=128, vocabSize=152064,
                      denseFfnSize=27648, numExperts=0, numExpertGroups=0, topK=0, expertFfnSize=0,
                      sharedExpertFfnSize=0),
    "pangu-pro-moe": dict(numLayers=48, hiddenSize=5120, numHeads=40, numKvHeads=8, headDim=128, vocabSize=153376,
                          denseFfnSize=0, numExperts=64, numExpertGroups=8, topK=8, expertFfnSize=1344,
                          sharedExpertFfnSize=5376),
}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    ap.add_argument("--layers", type=int, default=4)
    args = ap.parse_args()
    cases = []
    for name, a in ARCHS.items():
        for b, s in [(1, 512), (1, 2048), (4, 2048)]:
            cases.append(run_case(name, a, args.layers, "prefill", b, s, s, False))
            print(json.dumps({k: v for k, v in cases[-1].items() if k != "arch"}), flush=True)
        for b in [1, 8, 32, 128]:
            for ctx in [1024, 4096]:
                cases.append(run_case(name, a, args.layers, "decode", b, 1, ctx, True))
                print(json.dumps({k: v for k, v in cases[-1].items() if k != "arch"}), flush=True)
    out = {
        "device": torch.cuda.get_device_name(0),
        "torch": torch.__version__,
        "measuredAt": time.strftime("%Y-%m-%d"),
        "cases": cases,
    }
    with open(args.out, "w") as f:
        json.dump(out, f, indent=1)


if __name__ == "__main__":
    main()

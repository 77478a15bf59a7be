#!/usr/bin/env python3
"""The PanguProMoE model of @moge/model in PyTorch eager: the baseline for packages/model/bench/run.ts.

Loads an HF model directory written by @moge/model (config.json + model.safetensors, parsed here
with struct/json + torch.frombuffer since no pip packages are available) and runs the same
computation as modelForward/modelBackward: causal GQA attention with q/k/v/o biases and RoPE
(rotate-half), RMSNorm, MoGE routing (softmax over all experts, K/M best per group, weight =
p * router_scale, no renormalisation), SwiGLU experts dispatched per expert (the HF eager idiom),
an ungated shared expert, loss = mean next-token CE + alpha * sum of per-layer aux losses.

Modes (fixed thread count via torch.set_num_threads):
  check --expected <file>   compare logits/loss with a golden file (sanity check of this script)
  train                     forward + backward tokens/s on a [batch, seq] batch
  decode                    KV-cache decode tokens/s after a prefill, for a given batch size
  serve                     train and decode runs on request, one per stdin line, kept loaded
Prints one JSON object on stdout (serve: one a line, after a {"ready": true, ...} line).
"""
import argparse
import json
import math
import os
import struct
import sys
import time

# torch.set_num_threads does not reach OpenBLAS's own pool (Debian's python3-torch links
# libopenblas0-pthread), which then runs GEMMs on every core: pin it before torch loads it.
_threads = sys.argv[sys.argv.index("--threads") + 1] if "--threads" in sys.argv[:-1] else "1"
for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, _threads)

import torch  # noqa: E402

from blas_core import openblas_core  # noqa: E402

DTYPES = {"F32": torch.float32, "F16": torch.float16, "BF16": torch.bfloat16, "F64": torch.float64}


def read_safetensors(path):
    with open(path, "rb") as f:
        data = f.read()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8 : 8 + n])
    base = 8 + n
    out = {}
    for name, e in header.items():
        if name == "__metadata__":
            continue
        b, end = e["data_offsets"]
        t = torch.frombuffer(bytearray(data[base + b : base + end]), dtype=DTYPES[e["dtype"]])
        out[name] = t.reshape(e["shape"]).float()
    return out


def load_model(model_dir):
    cfg = json.load(open(os.path.join(model_dir, "config.json")))
    index = os.path.join(model_dir, "model.safetensors.index.json")
    if os.path.exists(index):
        files = sorted(set(json.load(open(index))["weight_map"].values()))
        w = {}
        for f in files:
            w.update(read_safetensors(os.path.join(model_dir, f)))
    else:
        w = read_safetensors(os.path.join(model_dir, "model.safetensors"))
    return cfg, w


class Model:
    def __init__(self, cfg, w, requires_grad=False, dtype=torch.float32):
        self.cfg = cfg
        self.L = cfg["num_hidden_layers"]
        self.H = cfg["num_attention_heads"]
        self.KV = cfg["num_key_value_heads"]
        self.D = cfg.get("head_dim") or cfg["hidden_size"] // self.H
        self.E = cfg["num_experts"]
        self.K = cfg["num_experts_per_tok"]
        self.M = cfg.get("num_expert_groups", 8)
        self.eps = cfg["rms_norm_eps"]
        self.theta = cfg["rope_theta"]
        self.w = {k: v.to(dtype).clone().requires_grad_(requires_grad) for k, v in w.items()}
        # Stack each layer's experts once, as @moge/model does, so the per-expert loop indexes views.
        self.experts = {}
        for l in range(self.L):
            for proj in ("gate_proj", "up_proj", "down_proj"):
                self.experts[(l, proj)] = [self.w[f"model.layers.{l}.mlp.experts.{e}.{proj}.weight"] for e in range(self.E)]

    def rms(self, x, weight):
        return weight * (x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps))

    def rope(self, x, pos):  # x [B, S, h, D]
        half = self.D // 2
        inv = self.theta ** (-torch.arange(0, half, dtype=torch.float64) * 2 / self.D)
        ang = pos.to(torch.float64)[:, None] * inv[None, :]
        cos, sin = ang.cos().to(x.dtype)[None, :, None, :], ang.sin().to(x.dtype)[None, :, None, :]
        x1, x2 = x[..., :half], x[..., half:]
        return torch.cat([x1 * cos - x2 * sin, x2 * cos + x1 * sin], dim=-1)

    def attention(self, l, x, pos, cache):
        p = f"model.layers.{l}.self_attn."
        B, S, _ = x.shape
        lin = lambda n: torch.nn.functional.linear(x, self.w[p + n + ".weight"], self.w[p + n + ".bias"])
        q = self.rope(lin("q_proj").view(B, S, self.H, self.D), pos).transpose(1, 2)
        k = self.rope(lin("k_proj").view(B, S, self.KV, self.D), pos).transpose(1, 2)
        v = lin("v_proj").view(B, S, self.KV, self.D).transpose(1, 2)
        if cache is not None:
            if l in cache:
                k = torch.cat([cache[l][0], k], dim=2)
                v = torch.cat([cache[l][1], v], dim=2)
            cache[l] = (k, v)
        rep = self.H // self.KV
        k = k.repeat_interleave(rep, dim=1)
        v = v.repeat_interleave(rep, dim=1)
        Sk = k.shape[2]
        scores = q @ k.transpose(-1, -2) / math.sqrt(self.D)
        mask = torch.ones(S, Sk, dtype=torch.bool).tril(Sk - S)
        scores = scores.masked_fill(~mask, float("-inf"))
        out = torch.softmax(scores, dim=-1) @ v
        out = out.transpose(1, 2).reshape(B, S, self.H * self.D)
        return torch.nn.functional.linear(out, self.w[p + "o_proj.weight"], self.w[p + "o_proj.bias"])

    def moe(self, l, x):
        p = f"model.layers.{l}.mlp."
        shape = x.shape
        x = x.reshape(-1, shape[-1])
        T = x.shape[0]
        probs = torch.softmax(x @ self.w[p + "gate.weight"].t(), dim=-1, dtype=torch.float32)
        g = self.E // self.M
        vals, local = probs.view(T, self.M, g).topk(self.K // self.M, dim=-1)
        ids = (local + torch.arange(self.M).view(1, self.M, 1) * g).view(T, self.K)
        weights = vals.view(T, self.K) * self.w[p + "router_scale"].view(-1)[ids]
        out = torch.zeros_like(x)
        flat_ids = ids.view(-1)
        for e in range(self.E):
            sel = (flat_ids == e).nonzero().view(-1)
            if sel.numel() == 0:
                continue
            tok = sel // self.K
            xe = x[tok]
            gate, up, down = (self.experts[(l, n)][e] for n in ("gate_proj", "up_proj", "down_proj"))
            ye = torch.nn.functional.linear(torch.nn.functional.silu(xe @ gate.t()) * (xe @ up.t()), down)
            out = out.index_add(0, tok, (ye * weights.view(-1)[sel].unsqueeze(-1)).to(out.dtype))
        s = p + "shared_expert."
        out = out + torch.nn.functional.linear(
            torch.nn.functional.silu(x @ self.w[s + "gate_proj.weight"].t()) * (x @ self.w[s + "up_proj.weight"].t()),
            self.w[s + "down_proj.weight"],
        )
        counts = torch.bincount(flat_ids, minlength=self.E).float()
        aux = ((self.E / (self.K * T)) * counts * probs.mean(0)).sum()
        return out.view(shape), aux, ids

    def forward(self, ids, cache=None, past=0):
        B, S = ids.shape
        pos = torch.arange(past, past + S)
        x = self.w["model.embed_tokens.weight"][ids]
        auxes, routing = [], []
        for l in range(self.L):
            x = x + self.attention(l, self.rms(x, self.w[f"model.layers.{l}.input_layernorm.weight"]), pos, cache)
            y, aux, r = self.moe(l, self.rms(x, self.w[f"model.layers.{l}.post_attention_layernorm.weight"]))
            x = x + y
            auxes.append(aux)
            routing.append(r)
        logits = torch.nn.functional.linear(self.rms(x, self.w["model.norm.weight"]), self.w["lm_head.weight"])
        return logits, auxes, routing

    def loss(self, ids, alpha):
        logits, auxes, _ = self.forward(ids)
        V = logits.shape[-1]
        ce = torch.nn.functional.cross_entropy(logits[:, :-1].reshape(-1, V), ids[:, 1:].reshape(-1))
        return logits, ce, auxes, ce + alpha * sum(auxes)


def median(xs):
    s = sorted(xs)
    n = len(s)
    return s[n // 2] if n % 2 else (s[n // 2 - 1] + s[n // 2]) / 2


def timed(fn, repeats, warmup):
    """Median wall and process CPU seconds (user + system, all threads) of fn over the repeats.
    fn may return its own (wall, cpu) to time only part of itself."""
    walls, cpus = [], []
    for r in range(warmup + repeats):
        c0, t0 = time.process_time(), time.perf_counter()
        inner = fn()
        wall, cpu = time.perf_counter() - t0, time.process_time() - c0
        if r < warmup:
            continue
        if inner is not None:
            wall, cpu = inner
        walls.append(wall)
        cpus.append(cpu)
    return median(walls), median(cpus)


def parser():
    ap = argparse.ArgumentParser()
    ap.add_argument("mode", choices=["check", "train", "decode", "serve"])
    ap.add_argument("--model", help="model directory (every mode but serve)")
    ap.add_argument("--expected", help="golden expected.json (check mode)")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--batch", type=int, default=4)
    ap.add_argument("--seq", type=int, default=256, help="train: sequence length; decode: prefill length")
    ap.add_argument("--steps", type=int, default=32, help="decode steps")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--warmup", type=int, default=1)
    ap.add_argument("--alpha", type=float, default=None)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--dtype", choices=["float32", "bfloat16"], default="float32",
                    help="decode: the dtype PyTorch computes in (the checkpoint's values are loaded into it)")
    return ap


def check(args):
    cfg, w = load_model(args.model)
    exp = json.load(open(args.expected))
    m = Model(cfg, w)
    with torch.no_grad():
        logits, ce, auxes, total = m.loss(torch.tensor(exp["input_ids"]), exp["loss"]["aux_alpha"])
    ref = torch.tensor(exp["logits"]).view_as(logits)
    return {"max_abs_logit_diff": (logits - ref).abs().max().item(), "total": total.item(), "expected_total": exp["loss"]["total"]}


def train(args, cfg, m):
    alpha = args.alpha if args.alpha is not None else cfg.get("router_aux_loss_coef", 0.01)
    gen = torch.Generator().manual_seed(args.seed)
    ids = torch.randint(0, cfg["vocab_size"], (args.batch, args.seq), generator=gen)

    def step():
        for t in m.w.values():
            t.grad = None
        _, _, _, total = m.loss(ids, alpha)
        total.backward()

    wall, cpu = timed(step, args.repeats, args.warmup)
    return {"mode": "train", "threads": args.threads, "batch": args.batch, "seq": args.seq, "wall_s": wall, "cpu_s": cpu, "tokens_per_s": args.batch * args.seq / wall, "blas_core": openblas_core()}


def decode(args, cfg, m):
    gen = torch.Generator().manual_seed(args.seed)
    prompt = torch.randint(0, cfg["vocab_size"], (args.batch, args.seq), generator=gen)

    def run():
        cache = {}
        with torch.inference_mode():
            logits, _, _ = m.forward(prompt, cache, 0)
            tok = logits[:, -1].argmax(-1, keepdim=True)
            c0, t0 = time.process_time(), time.perf_counter()
            for i in range(args.steps):
                logits, _, _ = m.forward(tok, cache, args.seq + i)
                tok = logits[:, -1].argmax(-1, keepdim=True)
            return time.perf_counter() - t0, time.process_time() - c0

    wall, cpu = timed(run, args.repeats, args.warmup)
    return {"mode": "decode", "threads": args.threads, "batch": args.batch, "prefill": args.seq, "steps": args.steps, "wall_s": wall, "cpu_s": cpu, "tokens_per_s": args.batch * args.steps / wall, "blas_core": openblas_core()}


def measure(args, models):
    """One train or decode measurement; `models` caches the loaded Model per (directory, mode, dtype)."""
    key = (args.model, args.mode, args.dtype)
    if key not in models:
        cfg, w = load_model(args.model)
        models[key] = (cfg, Model(cfg, w, requires_grad=True) if args.mode == "train" else Model(cfg, w, dtype=getattr(torch, args.dtype)))
    cfg, m = models[key]
    return (train if args.mode == "train" else decode)(args, cfg, m)


def serve(ap, threads):
    """Answers measurement requests, one per stdin line, each the argument list of a train or decode
    run (JSON array of strings, e.g. ["decode", "--model", "/tmp/m", "--batch", "1"]), with one JSON line
    on stdout. The bench keeps this process for its whole run rather than starting one per round: a
    process started from the bench's own (large) process made the bench's next runs up to 2x slower
    for a while, on this host (see packages/model/README.md)."""
    def refuse(message):
        raise ValueError(message)

    ap.error = refuse  # a malformed request gets an error reply instead of ending the process
    models = {}
    print(json.dumps({"ready": True, "threads": threads, "blas_core": openblas_core()}), flush=True)
    for line in sys.stdin:
        if not line.strip():
            continue
        try:
            args = ap.parse_args(json.loads(line))
            if args.mode not in ("train", "decode") or not args.model:
                raise ValueError(f"serve: a request is a train or decode run with --model, got {line.strip()}")
            if args.threads != threads:
                raise ValueError(f"serve: this process runs {threads} thread(s); start another for --threads {args.threads}")
            reply = measure(args, models)
        except (ValueError, OSError, KeyError) as e:
            reply = {"error": f"{type(e).__name__}: {e}"}
        print(json.dumps(reply), flush=True)


def main():
    ap = parser()
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    if args.mode == "serve":
        serve(ap, args.threads)
        return
    if not args.model:
        ap.error(f"{args.mode}: --model is required")
    print(json.dumps(check(args) if args.mode == "check" else measure(args, {})))


if __name__ == "__main__":
    main()

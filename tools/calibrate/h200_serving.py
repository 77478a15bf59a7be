"""End-to-end serving-step timings on one NVIDIA H200, to check the inference simulator on hardware
and models it was never fitted to (bf16, random weights, single GPU).

Decode steps run as a captured CUDA graph (as vLLM runs decode), so host overhead is excluded: the
simulator is compared on its device time (step time minus its host `stepOverheadS`). Prefill runs
eagerly (large kernels, launch cost small). MoE layers use grouped GEMMs that read only the experts a
step routes rows to.

Run: python3 tools/calibrate/h200_serving.py --out tools/calibrate/data/h200-serving.json
"""
import argparse, json, time
import torch
import torch.nn.functional as F

DEV = 'cuda'
DT = torch.bfloat16

DENSE = dict(name='dense-8b', layers=32, hidden=4096, heads=32, kv=8, hd=128, ffn=14336, vocab=128256, experts=0)
MOE = dict(name='moge-pro-12l', layers=12, hidden=5120, heads=40, kv=8, hd=128, ffn=0, vocab=153376,
           experts=64, topk=8, groups=8, expert_ffn=1344, shared_ffn=5376)


def weights(c):
    h, hd = c['hidden'], c['hd']
    L = []
    for _ in range(c['layers']):
        w = dict(
            qkv=torch.randn(h, (c['heads'] + 2 * c['kv']) * hd, device=DEV, dtype=DT) * 0.02,
            o=torch.randn(c['heads'] * hd, h, device=DEV, dtype=DT) * 0.02,
            n1=torch.ones(h, device=DEV, dtype=DT), n2=torch.ones(h, device=DEV, dtype=DT))
        if c['experts'] == 0:
            w['gu'] = torch.randn(h, 2 * c['ffn'], device=DEV, dtype=DT) * 0.02
            w['d'] = torch.randn(c['ffn'], h, device=DEV, dtype=DT) * 0.02
        else:
            E, f = c['experts'], c['expert_ffn']
            w['gate'] = torch.randn(h, E, device=DEV, dtype=DT) * 0.02
            w['group_base'] = torch.arange(c['groups'], device=DEV).view(1, -1, 1) * (E // c['groups'])
            # Stored [E, out, in] and passed transposed: the column-major layout _grouped_mm wants.
            w['egu'] = (torch.randn(E, 2 * f, h, device=DEV, dtype=DT) * 0.02).transpose(-2, -1)
            w['ed'] = (torch.randn(E, h, f, device=DEV, dtype=DT) * 0.02).transpose(-2, -1)
            w['sgu'] = torch.randn(h, 2 * c['shared_ffn'], device=DEV, dtype=DT) * 0.02
            w['sd'] = torch.randn(c['shared_ffn'], h, device=DEV, dtype=DT) * 0.02
        L.append(w)
    head = torch.randn(h, c['vocab'], device=DEV, dtype=DT) * 0.02
    return L, head


def swiglu(x, gu, d):
    a, b = (x @ gu).chunk(2, dim=-1)
    return (F.silu(a) * b) @ d


def moe(c, w, x):
    # x [T, h]. MoGE routing (softmax over all experts, top K/M per group); the T·K rows sorted by
    # expert go through one grouped GEMM per projection (torch._grouped_mm, CUTLASS on sm90), which
    # reads only the experts that have rows: static shapes, so decode can be graph-captured.
    T = x.shape[0]
    E, K = c['experts'], c['topk']
    p = torch.softmax((x @ w['gate']).float(), dim=-1).view(T, c['groups'], -1)
    val, idx = p.topk(K // c['groups'], dim=-1)
    idx = (idx + w['group_base']).view(-1)
    val = val.reshape(-1).to(DT)
    order = torch.argsort(idx)
    token = order // K
    # scatter_add, not bincount: bincount sizes its output on the host, which a graph cannot capture.
    counts = torch.zeros(E, device=DEV, dtype=torch.int32).scatter_add_(0, idx, torch.ones_like(idx, dtype=torch.int32))
    offs = torch.cumsum(counts, 0, dtype=torch.int32)
    xs = x[token]
    a, b = torch._grouped_mm(xs, w['egu'], offs=offs).chunk(2, dim=-1)
    y = torch._grouped_mm((F.silu(a) * b).contiguous(), w['ed'], offs=offs) * val[order].unsqueeze(-1)
    out = torch.zeros_like(x).index_add_(0, token, y)
    return out + swiglu(x, w['sgu'], w['sd'])


def layer(c, w, x, kc, vc, prefill):
    # x [B, S, h]; kc/vc [B, kv, ctx, hd]
    B, S, h = x.shape
    hd, H, KV = c['hd'], c['heads'], c['kv']
    y = F.rms_norm(x, (h,), w['n1'])
    qkv = y @ w['qkv']
    q, k, v = qkv.split([H * hd, KV * hd, KV * hd], dim=-1)
    q = q.view(B, S, H, hd).transpose(1, 2)
    if prefill:
        k = k.view(B, S, KV, hd).transpose(1, 2)
        v = v.view(B, S, KV, hd).transpose(1, 2)
        att = F.scaled_dot_product_attention(q, k, v, is_causal=True, enable_gqa=True)
    else:
        kc[:, :, -1:, :] = k.view(B, 1, KV, hd).transpose(1, 2)
        vc[:, :, -1:, :] = v.view(B, 1, KV, hd).transpose(1, 2)
        att = F.scaled_dot_product_attention(q, kc, vc, enable_gqa=True)
    x = x + att.transpose(1, 2).reshape(B, S, H * hd) @ w['o']
    y = F.rms_norm(x, (h,), w['n2'])
    if c['experts'] == 0:
        f = swiglu(y, w['gu'], w['d'])
    else:
        f = moe(c, w, y.reshape(B * S, h)).view(B, S, h)
    return x + f


def forward(c, L, head, x, caches, prefill):
    for w, (kc, vc) in zip(L, caches):
        x = layer(c, w, x, kc, vc, prefill)
    last = x[:, -1, :]
    return torch.argmax(last @ head, dim=-1)


def timed(fn, reps=20, warm=3):
    for _ in range(warm):
        fn()
    torch.cuda.synchronize()
    s, e = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    s.record()
    for _ in range(reps):
        fn()
    e.record()
    torch.cuda.synchronize()
    return s.elapsed_time(e) / 1e3 / reps


def decode_time(c, L, head, batch, ctx):
    caches = [(torch.randn(batch, c['kv'], ctx, c['hd'], device=DEV, dtype=DT), torch.randn(batch, c['kv'], ctx, c['hd'], device=DEV, dtype=DT)) for _ in L]
    x = torch.randn(batch, 1, c['hidden'], device=DEV, dtype=DT)
    stream = torch.cuda.Stream()
    stream.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(stream):
        for _ in range(2):
            forward(c, L, head, x, caches, False)
    torch.cuda.current_stream().wait_stream(stream)
    g = torch.cuda.CUDAGraph()
    with torch.cuda.graph(g):
        forward(c, L, head, x, caches, False)
    t = timed(g.replay)
    del g, caches
    torch.cuda.empty_cache()
    return t


def prefill_time(c, L, head, batch, seq):
    x = torch.randn(batch, seq, c['hidden'], device=DEV, dtype=DT)
    caches = [(None, None) for _ in L]
    with torch.no_grad():
        t = timed(lambda: forward(c, L, head, x, caches, True), reps=5, warm=2)
    torch.cuda.empty_cache()
    return t


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--out', required=True)
    args = ap.parse_args()
    rows = []
    torch.manual_seed(0)
    with torch.no_grad():
        for c, decodes, prefills in [
            (DENSE, [(1, 2048), (16, 2048), (64, 2048), (128, 2048), (32, 8192)], [(1, 2048), (4, 2048)]),
            (MOE, [(1, 2048), (16, 2048), (64, 2048)], [(1, 2048), (2, 2048)]),
        ]:
            L, head = weights(c)
            try:
                for b, ctx in decodes:
                    t = decode_time(c, L, head, b, ctx)
                    rows.append(dict(model=c['name'], phase='decode', batch=b, context=ctx, stepS=t))
                    print(rows[-1], flush=True)
                for b, s in prefills:
                    t = prefill_time(c, L, head, b, s)
                    rows.append(dict(model=c['name'], phase='prefill', batch=b, inputLength=s, stepS=t))
                    print(rows[-1], flush=True)
            except Exception as e:  # keep what was measured; say what failed
                print(f"{c['name']}: {type(e).__name__}: {e}", flush=True)
            del L, head
            torch.cuda.empty_cache()
    meta = dict(device=torch.cuda.get_device_name(), torch=torch.__version__, cuda=torch.version.cuda, dtype='bf16',
                date=time.strftime('%Y-%m-%d'), method='decode: CUDA-graph replay, mean of 20 after 3 warm-ups; prefill: eager, mean of 5 after 2',
                models=dict(dense=DENSE, moe=MOE))
    with open(args.out, 'w') as f:
        json.dump(dict(meta=meta, rows=rows), f, indent=1)


if __name__ == '__main__':
    main()

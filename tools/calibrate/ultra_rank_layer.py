"""One rank's share of a Pangu Ultra MoE layer under the ULT-T1 layout, shared by the scripts that measure it.

TP8 + sequence parallelism, experts over TP x EP = 32 ranks, micro-batch 1 x 4096 tokens
(shared/reference/papers.md), collectives left out: an all-gather of sequence-parallel rows is a
repeat of the local rows, a reduce-scatter a slice. The scripts run from this folder, so
`import ultra_rank_layer` works.
"""
import torch
import torch.nn.functional as F

dev = torch.device('cuda')
bf = torch.bfloat16

H, HEADS, QL, KVL, NOPE, ROPE, V = 7680, 128, 1536, 512, 128, 64, 128
E, TOPK, F_EXP, F_SHARED, VOCAB = 256, 8, 2048, 2048, 153_600
TP, EP, SEQ = 8, 32, 4096
SP = SEQ // TP  # sequence-parallel rows of a rank
LH = HEADS // TP  # local attention heads
LE = E // EP  # local experts
ROWS_PER_EXPERT = SP * TOPK * EP // E  # balanced: 512 (every rank receives what it sends)


def w(*shape, scale=0.02):
    return (torch.randn(*shape, device=dev, dtype=bf) * scale).requires_grad_()


def gather(x):  # TP all-gather of sequence-parallel rows, communication left out
    return x.repeat(TP, 1)


def scatter(x):  # TP reduce-scatter back to a rank's rows, communication left out
    return x[:SP]


def rope(x, cos, sin):  # rotate-half on the last axis
    x1, x2 = x.chunk(2, dim=-1)
    return x * cos + torch.cat((-x2, x1), dim=-1) * sin


class LayerWeights:
    """A rank's weights of one MoE layer (MLA heads and the shared expert split over TP, 8 local experts),
    the rotary tables and the balanced grouped_mm offsets."""

    def __init__(self):
        self.n1, self.n2 = w(H, scale=1.0), w(H, scale=1.0)
        self.q_down, self.q_norm, self.q_up = w(QL, H), w(QL, scale=1.0), w(LH * (NOPE + ROPE), QL)
        self.kv_down, self.kv_norm, self.kv_up = w(KVL + ROPE, H), w(KVL, scale=1.0), w(LH * (NOPE + V), KVL)
        self.o = w(H, LH * V)
        self.gate = w(E, H)
        self.w13 = w(LE, H, 2 * F_EXP)  # [E, K, N] for grouped_mm
        self.w2 = w(LE, F_EXP, H)
        self.s13 = w(2 * F_SHARED // TP, H)
        self.s2 = w(H, F_SHARED // TP)
        pos = torch.arange(SEQ, device=dev, dtype=torch.float32)
        inv = 1.0 / (10000 ** (torch.arange(0, ROPE, 2, device=dev, dtype=torch.float32) / ROPE))
        ang = torch.cat([torch.outer(pos, inv)] * 2, dim=-1)
        self.cos, self.sin = ang.cos().to(bf)[:, None, :], ang.sin().to(bf)[:, None, :]
        self.offs = torch.arange(1, LE + 1, device=dev, dtype=torch.int32) * ROWS_PER_EXPERT

    def params(self):
        return [self.n1, self.n2, self.q_down, self.q_norm, self.q_up, self.kv_down, self.kv_norm, self.kv_up, self.o, self.gate, self.w13, self.w2, self.s13, self.s2]


def moe_half(l, x, column_linear):
    """The layer's FFN half on residual stream x: router, the local experts over the balanced dispatch,
    the shared expert through `column_linear(local rows, weight)` (how its gathered input is kept)."""
    h = F.rms_norm(x, (H,), l.n2)
    probs = torch.softmax((h @ l.gate.t()).float(), dim=-1)
    top_w, top_i = probs.topk(TOPK, dim=-1)
    # permute: this rank's assignments sorted by expert; the balanced all-to-all hands every local
    # expert ROWS_PER_EXPERT rows, which the permuted block stands in for
    order = top_i.flatten().argsort(stable=True)
    token = order // TOPK
    xs = h.index_select(0, token)
    gu = torch._grouped_mm(xs, l.w13, offs=l.offs)
    g, u = gu.chunk(2, dim=-1)
    ys = torch._grouped_mm(F.silu(g) * u, l.w2, offs=l.offs)
    # unpermute: weighted sum of each token's expert outputs
    y = torch.zeros_like(h).index_add_(0, token, ys * top_w.flatten()[order, None].to(bf))
    sg, su = column_linear(h, l.s13).chunk(2, dim=-1)
    y = y + scatter((F.silu(sg) * su) @ l.s2.t())
    return x + y

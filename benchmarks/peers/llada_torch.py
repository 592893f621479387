#!/usr/bin/env python3
"""PyTorch eager peer of LLaDA.NET's training step, for same-GPU tokens/s comparisons (run only on the GPU machine).

The same mask predictor as src/Nn (pre-norm LLaMA blocks without a causal mask: RMSNorm, RoPE half rotation,
SiLU-gated MLP, no biases, untied head) and the same loss as src/Diffusion/Losses.cs: t ~ U[0,1) per row,
p = (1-eps) t + eps, tokens masked with probability p, cross-entropy of the masked tokens only (LM head applied to the
masked rows only), weighted 1/(p B L); AdamW (0.9, 0.95, wd 0.1). fp32 everywhere, TF32 off, SDPA attention.
Prints one JSON line per model: {"ref": "torch", "op": "train_step", "shape": ..., "tokens_per_s": ...}.
"""
import json, math, time
import torch
import torch.nn.functional as F

torch.backends.cuda.matmul.allow_tf32 = False
torch.backends.cudnn.allow_tf32 = False


class Block(torch.nn.Module):
    def __init__(self, d, h, m):
        super().__init__()
        self.h = h
        self.attn_norm = torch.nn.Parameter(torch.ones(d))
        self.ff_norm = torch.nn.Parameter(torch.ones(d))
        self.q = torch.nn.Linear(d, d, bias=False)
        self.k = torch.nn.Linear(d, d, bias=False)
        self.v = torch.nn.Linear(d, d, bias=False)
        self.o = torch.nn.Linear(d, d, bias=False)
        self.gate = torch.nn.Linear(d, m, bias=False)
        self.up = torch.nn.Linear(d, m, bias=False)
        self.down = torch.nn.Linear(m, d, bias=False)

    @staticmethod
    def rms(x, w, eps=1e-5):
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps) * w

    def forward(self, x, cos, sin):
        b, t, d = x.shape
        hs = d // self.h
        a = self.rms(x, self.attn_norm)
        q = self.q(a).view(b, t, self.h, hs)
        k = self.k(a).view(b, t, self.h, hs)
        v = self.v(a).view(b, t, self.h, hs)

        def rope(z):
            z1, z2 = z[..., : hs // 2], z[..., hs // 2:]
            return z * cos + torch.cat((-z2, z1), -1) * sin

        q, k = rope(q), rope(k)
        o = F.scaled_dot_product_attention(q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2), is_causal=False)
        x = x + self.o(o.transpose(1, 2).reshape(b, t, d))
        f = self.rms(x, self.ff_norm)
        return x + self.down(F.silu(self.gate(f)) * self.up(f))


class MaskPredictor(torch.nn.Module):
    def __init__(self, vocab, d, layers, heads, mlp, theta=10000.0):
        super().__init__()
        self.wte = torch.nn.Embedding(vocab, d)
        self.blocks = torch.nn.ModuleList(Block(d, heads, mlp) for _ in range(layers))
        self.ln_f = torch.nn.Parameter(torch.ones(d))
        self.head = torch.nn.Linear(d, vocab, bias=False)
        self.hs, self.theta = d // heads, theta
        for p in self.parameters():
            if p.dim() == 2:
                torch.nn.init.trunc_normal_(p, std=0.02, a=-0.06, b=0.06)

    def hidden(self, ids):
        t = ids.shape[1]
        inv = 1.0 / (self.theta ** (torch.arange(0, self.hs, 2, device=ids.device).float() / self.hs))
        ang = torch.outer(torch.arange(t, device=ids.device).float(), inv)
        emb = torch.cat((ang, ang), -1)
        cos, sin = emb.cos()[None, :, None, :], emb.sin()[None, :, None, :]
        x = self.wte(ids)
        for blk in self.blocks:
            x = blk(x, cos, sin)
        return Block.rms(x, self.ln_f)


def step(model, opt, ids, mask_id, eps=1e-3):
    b, l = ids.shape
    t = torch.rand(b, device=ids.device)
    p = (1 - eps) * t + eps
    masked = torch.rand(b, l, device=ids.device) < p[:, None]
    noisy = torch.where(masked, torch.full_like(ids, mask_id), ids)
    h = model.hidden(noisy)[masked]                      # masked rows only, like Losses.Masked
    logits = model.head(h)
    w = (1.0 / (p[:, None].expand(b, l)[masked] * b * l))
    loss = (F.cross_entropy(logits, ids[masked], reduction="none") * w).sum()
    opt.zero_grad(set_to_none=True)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
    opt.step()
    return loss


def bench(name, vocab, d, layers, heads, mlp, t, b, steps=20):
    dev = "cuda"
    torch.manual_seed(0)
    model = MaskPredictor(vocab, d, layers, heads, mlp).to(dev)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3, betas=(0.9, 0.95), weight_decay=0.1)
    ids = torch.randint(0, vocab - 3, (b, t), device=dev)
    for _ in range(3):
        step(model, opt, ids, vocab - 1)
    torch.cuda.synchronize()
    t0 = time.perf_counter()
    for _ in range(steps):
        step(model, opt, ids, vocab - 1)
    torch.cuda.synchronize()
    dt = (time.perf_counter() - t0) / steps
    print(json.dumps({"ref": "torch", "op": "train_step", "model": name, "shape": [layers, d, heads, t, b, vocab],
                      "ms": round(dt * 1000, 3), "tokens_per_s": round(b * t / dt, 1)}), flush=True)


if __name__ == "__main__":
    bench("bench-preset", 4096, 256, 6, 4, 1024, 256, 16)
    bench("d1024x12", 32000, 1024, 12, 16, 4096, 512, 16)

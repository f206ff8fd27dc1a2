"""The stand-in's emulation of SageAttention 2.2's arithmetic (tests only; written from the
paper and the kernels' documented behaviour, not from their code): Q and K rounded to int8 with
one scale per group of tokens (per_block, per_warp, per_thread: coarser to finer), K first
smoothed by subtracting its mean over the tokens (smooth_k, the kernels' default), softmax in
float32, then P and V rounded to fp8 e4m3 (3 mantissa bits; V with one scale per channel) or to
fp16 for the fp16-PV kernels. Enough to give the real kernels' order of error on randn (a few
1e-2) and, with smooth_k=False, the failure the SageAttention paper describes for K's
channel-wise outliers."""
import math

import torch

# Tokens that share one int8 scale (Q, K), by qk_quant_gran. The real per_warp kernels use
# warps of 16-32 query rows and 64-128 key rows; per_thread splits those further.
GROUPS = {"per_block": (128, 64), "per_warp": (32, 64), "per_thread": (8, 16)}


def int8_groups(t, group):
    """t (B, H, L, D) rounded to int8 with one scale per `group` tokens, dequantised."""
    b, h, n, d = t.shape
    pad = (-n) % group
    x = torch.nn.functional.pad(t.float(), (0, 0, 0, pad)).view(b, h, -1, group, d)
    s = x.abs().amax(dim=(-1, -2), keepdim=True).clamp_min(1e-8) / 127.0
    return ((x / s).round().clamp(-127, 127) * s).view(b, h, -1, d)[:, :, :n]


def round_mantissa(x, bits):
    """x rounded to `bits` explicit mantissa bits (e4m3: 3), as a float tensor."""
    m, e = torch.frexp(x)
    scale = float(2 ** (bits + 1))
    return torch.ldexp(torch.round(m * scale) / scale, e)


def fp8_e4m3(x, dim):
    """x scaled per slice along `dim` into e4m3's range (448), rounded, scaled back."""
    s = x.abs().amax(dim=dim, keepdim=True).clamp_min(1e-8) / 448.0
    return round_mantissa(x / s, 3) * s


def attention(q, k, v, tensor_layout, sm_scale, gran, pv, smooth_k):
    """q, k, v in `tensor_layout` ("HND" or "NHD"); the output in the same layout and dtype."""
    if tensor_layout not in ("HND", "NHD"):
        raise ValueError("tensor_layout must be HND or NHD, got {!r}".format(tensor_layout))
    if q.shape[-1] > 128:
        raise ValueError("Unsupported head_dim: {}".format(q.shape[-1]))
    dtype = q.dtype
    if tensor_layout == "NHD":
        q, k, v = (t.transpose(1, 2) for t in (q, k, v))
    scale = sm_scale if sm_scale is not None else 1.0 / math.sqrt(q.shape[-1])
    kf = k.float()
    if smooth_k:  # softmax is unchanged by a per-query constant: q . mean(K) is one
        kf = kf - kf.mean(dim=2, keepdim=True)
    gq, gk = GROUPS[gran]
    s = torch.matmul(int8_groups(q, gq), int8_groups(kf, gk).transpose(-1, -2)) * scale
    p = s.softmax(dim=-1)
    vf = v.float()
    if pv == "fp8":
        p, vf = round_mantissa(p * 448.0, 3) / 448.0, fp8_e4m3(vf, dim=2)
    else:
        p, vf = p.half().float(), vf.half().float()
    out = torch.matmul(p, vf).to(dtype)
    return out.transpose(1, 2) if tensor_layout == "NHD" else out

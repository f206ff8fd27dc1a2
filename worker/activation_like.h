// The activation-like input set of the numerical check: what randn lacks and real diffusion
// activations have, so that an 8-bit kernel that is wrong on a real model is wrong here too.
//
// Why: on randn every SageAttention kernel reads a relative error of 3.5e-2 to 4.1e-2 (DESIGN.md)
// and never fails, while users report black or NaN images from it with Qwen-Image, SDXL under
// --fast and Wan with fp8 weights, and NaN from the Triton kernel sageattn picks on sm86
// (ComfyUI issues #9184, #9773, #13166, #7020; FP8 PV noise past about 160k tokens on sm120,
// #15263). What real activations have, per the SageAttention papers:
// - K has channel-wise outliers: a few channels carry a large bias shared by every token
//   ("SageAttention: Accurate 8-Bit Attention for Plug-and-play Inference Acceleration",
//   Zhang et al., ICLR 2025, arXiv:2410.02367, section 4.2 and its figure of Q, K, V's
//   distributions in diffusion and language models). Rounding K to int8 with one scale per
//   block lets that bias set the scale and flattens the rest of K; SageAttention subtracts K's
//   mean over the tokens first ("smooth K"), which softmax does not see (q . mean(K) is the same
//   for every key), and its kernels do so by default (smooth_k=True).
// - Q has outlier channels too, less regular (SageAttention2, arXiv:2411.10958, section 3), so
//   Q's int8 scale covers a range about ten times its typical values.
// Construction, per head: max(2, D/32) channels of Q scaled by 10; as many other channels of K
// given a bias of 10 to 100 (log-spaced, random signs) over unit noise, so those channels are
// 10-100x the rest; V stays randn. Disjoint channels keep q . bias (the same for every key, so
// invisible to exact softmax) within what bf16 logits hold: fused exact kernels, whose logits are
// float32, read 1.7e-3 here as on randn; torch's math kernel, which rounds the logits to bf16,
// reads 2-3e-2, which is bf16's own error on this set (the check's floor, harness.cpp). With the stand-in's emulation of SageAttention's arithmetic (tests/standins/sageattention)
// at D=128 and 1024 tokens: smoothed int8 Q/K with fp16 PV reads 4.1e-2, with fp8 PV 5.6e-2
// (per_thread) to 7.1e-2 (per_block); the same kernel without smoothing K reads 0.37, against
// 1.2e-2 on randn. Long sequences and the model's dtype come from the workload and the job.
#pragma once

#include <ATen/ATen.h>

#include "common/workload.h"

namespace autotune::bench {

struct QKV {
  at::Tensor q, k, v;
};

// One set in the workload's layout ((B, H, L, D) or (B, L, H*D)), in `dtype` on `device`.
QKV make_activation_like(const Workload& w, at::ScalarType dtype, const at::Device& device);

}  // namespace autotune::bench

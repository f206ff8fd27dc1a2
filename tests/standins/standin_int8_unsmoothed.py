"""A kernel that really misbehaves on diffusion activations: SageAttention's fp16-PV kernel with
smooth_k=False, so K's channel-wise bias sets its int8 scale and the rest of K is lost (the
SageAttention paper's section 4.2). On randn it reads about 1e-2 and passes; the worker's
activation-like set must reject it. Takes (B, H, L, D): a job's "bhld" python backend."""
import sageattention


def attention(q, k, v):
    return sageattention.sageattn_qk_int8_pv_fp16_cuda(q, k, v, tensor_layout="HND", smooth_k=False)

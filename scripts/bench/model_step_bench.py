#!/usr/bin/env python3
"""What does autotune gain per sampling step of real ComfyUI model code? Times one step under each
attention configuration.

    model_step_bench.py --comfyui DIR [--decision FILE] [--table-decision FILE] --out DIR [options]

The gain per sampling step, measured with ComfyUI's own model classes rather
than with attention calls alone (scripts/bench/node_step_bench.py). Each model is built from the
ComfyUI source tree at DIR, at full width and depth as ComfyUI's model detection configures it
from the checkpoint, with random weights (ComfyUI's operations skip initialisation, so every
parameter is filled in place: normal, std --init-std; norm layers' weights 1 and biases 0, so
that q and k have a realistic spread):
  wan13b   comfy.ldm.wan.model.WanModel, Wan 2.1 t2v 1.3B: dim 1536, 30 layers, 12 heads, ffn
           8960; 480p 81 frames: latent 16 x 21 x 60 x 104 -> 32,760 tokens; text 512 tokens
  flux     comfy.ldm.flux.model.Flux, dev: hidden 3072, 24 heads, 19 double + 38 single blocks,
           guidance embedding; 1024 x 1024: 4096 image + 256 text tokens
  sdxl     comfy.ldm.modules.diffusionmodules.openaimodel.UNetModel, SDXL base as
           comfy/model_detection.py detects it; 1024 x 1024 (latent 128 x 128), context 77
  sd35l    comfy.ldm.modules.diffusionmodules.mmdit.OpenAISignatureMMDITWrapper (ComfyUI's
           MMDiT for SD3), SD3.5 Large: depth 38, 38 heads x 64, pos_embed_max_size 192,
           context 154 x 4096, adm 2048; 1024 x 1024 (latent 16 x 128 x 128)
One sampling step is one forward of the diffusion model under inference_mode: batch 2 (cond and
uncond, batched as ComfyUI batches them) for Wan, SDXL and SD3.5; batch 1 for Flux dev
(guidance-distilled: no uncond pass).

Configurations, all in one process (the model modules bind ComfyUI's attention function at
import, so ComfyUI's own choice is the one its default arguments give):
  default       no override: the attention function the pinned ComfyUI picks (its name is in
                the report; on torch 2 CUDA without xformers, attention_pytorch under its SDPA
                priority context)
  sage_flag     what --use-sage-attention gives: an override sending every call, masked ones
                too, to ComfyUI's registered "sage" function (skipped, with a note, where
                sageattention does not import)
  static_table  the node's router built from --table-decision (the decision `autotune --no-tune`
                writes: the static table's choice)
  autotune      the node's router built from --decision
The routers are built as the node builds them (comfyui_node.hook.build_router) and passed as
transformer_options["optimized_attention_override"]. A decision's comfyui_args are applied where
they change what ComfyUI itself runs: calls the router leaves to ComfyUI go to the function those
flags make ComfyUI pick (flag_function), not to the default's. --use-pytorch-cross-attention
and --disable-xformers change nothing on torch 2 CUDA without xformers: that is the default.

Timing: CUDA events around each step (wall time with --cpu), one warm-up step per
configuration (also the step whose output is compared and whose router counters are shown),
then --repeats rounds, each running every configuration once in a rotating order, so that clock
and heat drift fall on all alike. Reported per model and configuration: the median seconds per
step, the speedup against default (ratio of medians, and the median of the per-round ratios),
the output's relative difference from default's (||out - out_default|| / ||out_default||, same
inputs and weights), and the routers' counters for one step (route:<backend>, default:<backend>,
comfy:<why>, fallback:<backend>; a call the router passes on without looking counts nothing).

--cpu --tiny: the same classes with tiny widths, depths and latents, fp32, on the CPU, for the CI
test of this script's logic (tests/scripts/test_model_step_bench.py).

Writes DIR/model_step.csv and DIR/model_step.md and prints the summary.
"""
import argparse
import csv
import gc
import json
import os
import re
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
MODELS = ("wan13b", "flux", "sdxl", "sd35l")
CONFIGS = ("default", "sage_flag", "static_table", "autotune")
# Modules some ComfyUI imports need that a machine may lack (Debian 12 has no package for them).
# The model classes used here import none of them (seen with a125cd84 on Debian 12, torch 1.13);
# the report lists which were absent, so a newer ComfyUI that needs one fails visibly.
OPTIONAL_MODULES = ("safetensors", "torchsde", "transformers", "tokenizers", "av")


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0].strip(),
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--comfyui", required=True, help="an unpacked ComfyUI source tree (the folder holding comfy/)")
    p.add_argument("--comfyui-commit", default=None,
                   help="ComfyUI's commit for the report (e.g. a125cd84 from ComfyUI-a125cd84.tar.gz) [git rev-parse in "
                        "DIR, else unknown]")
    p.add_argument("--models", default=",".join(MODELS),
                   help="comma-separated, of {} [%(default)s]".format(", ".join(SPECS)))
    p.add_argument("--decision", help="autotune's decision file (the 'autotune' configuration)")
    p.add_argument("--table-decision", help="the decision `autotune --no-tune` writes ('static_table')")
    p.add_argument("--repeats", type=int, default=7, help="timed rounds [%(default)s]")
    p.add_argument("--out", required=True, help="directory for model_step.csv and model_step.md")
    p.add_argument("--dtype", choices=("bf16", "fp16"), default="bf16", help="weights and activations on the GPU")
    p.add_argument("--init-std", type=float, default=0.02, help="std of the random weights [%(default)s]")
    p.add_argument("--no-staleness-check", action="store_true",
                   help="use a decision even if made for another GPU or torch")
    p.add_argument("--cpu", action="store_true", help="run on the CPU in fp32 (wall-clock timers)")
    p.add_argument("--tiny", action="store_true", help="tiny widths, depths and latents, same classes")
    p.add_argument("--shapes", action="store_true",
                   help="only list each model's attention calls per step (meta device: no GPU, no memory, no "
                        "timing) into DIR/attention_shapes.csv")
    args = p.parse_args(argv)
    args.models = [m.strip() for m in args.models.split(",") if m.strip()]
    unknown = [m for m in args.models if m not in SPECS]
    if unknown or not args.models:
        p.error("--models: unknown {} (known: {})".format(", ".join(unknown) or "(none given)", ", ".join(SPECS)))
    if args.repeats < 1:
        p.error("--repeats must be at least 1, got {}".format(args.repeats))
    if not os.path.isdir(os.path.join(args.comfyui, "comfy")):
        p.error("--comfyui {}: no comfy/ folder there (expected an unpacked ComfyUI source tree)".format(args.comfyui))
    return args


# ---------------------------------------------------------------------------------------------
# Models: ComfyUI's classes with the configurations ComfyUI gives the released checkpoints.

def wan13b_spec(tiny, latent_hw=(60, 104)):
    """comfy/model_detection.py (wan, t2v) for Wan 2.1 1.3B; 480p 81 frames: (81 - 1) / 4 + 1 = 21
    latent frames of 60 x 104, patch (1, 2, 2): 21 * 30 * 52 = 32,760 tokens."""
    from comfy.ldm.wan.model import WanModel
    if tiny:  # head_dim 32: rope axes 12 + 10 + 10, all even as EmbedND needs
        config = dict(dim=64, ffn_dim=128, num_heads=2, num_layers=2, text_dim=32)
        latent, text = (16, 3, 8, 8), 8
    else:
        config = dict(dim=1536, ffn_dim=8960, num_heads=12, num_layers=30, text_dim=4096)
        latent, text = (16, 21) + tuple(latent_hw), 512
    config.update(model_type="t2v", patch_size=(1, 2, 2), text_len=512, in_dim=16, out_dim=16, freq_dim=256,
                  window_size=(-1, -1), qk_norm=True, cross_attn_norm=True, eps=1e-6)

    def inputs(torch, device, dtype, batch):
        return dict(x=torch.randn(batch, *latent, device=device, dtype=dtype),
                    timestep=torch.rand(batch, device=device) * 1000,  # flow models: sigma * 1000
                    context=torch.randn(batch, text, config["text_dim"], device=device, dtype=dtype))
    return WanModel, config, inputs, 2


def flux_spec(tiny):
    """comfy/model_detection.py (flux) with supported_models.Flux (guidance_embed): Flux.1 dev."""
    from comfy.ldm.flux.model import Flux
    config = dict(in_channels=16, out_channels=16, vec_in_dim=768, context_in_dim=4096, hidden_size=3072,
                  mlp_ratio=4.0, num_heads=24, depth=19, depth_single_blocks=38, axes_dim=[16, 56, 56],
                  theta=10000, patch_size=2, qkv_bias=True, guidance_embed=True)
    latent, text = (16, 128, 128), 256
    if tiny:
        config.update(vec_in_dim=16, context_in_dim=32, hidden_size=64, num_heads=2, depth=1,
                      depth_single_blocks=2, axes_dim=[8, 12, 12])
        latent, text = (16, 8, 8), 4

    def inputs(torch, device, dtype, batch):
        return dict(x=torch.randn(batch, *latent, device=device, dtype=dtype),
                    timestep=torch.rand(batch, device=device),  # Flux scales sigma by 1000 itself
                    context=torch.randn(batch, text, config["context_in_dim"], device=device, dtype=dtype),
                    y=torch.randn(batch, config["vec_in_dim"], device=device, dtype=dtype),
                    guidance=torch.full((batch,), 3.5, device=device))
    return Flux, config, inputs, 1


def sdxl_spec(tiny):
    """comfy/model_detection.py's SDXL unet config (unet_config_from_diffusers_unet, the same that
    detect_unet_config derives from the checkpoint) with supported_models_base.BASE's
    unet_extra_config (num_heads -1, num_head_channels 64)."""
    from comfy.ldm.modules.diffusionmodules.openaimodel import UNetModel
    config = dict(use_checkpoint=False, image_size=32, out_channels=4, use_spatial_transformer=True, legacy=False,
                  num_classes="sequential", adm_in_channels=2816, in_channels=4, model_channels=320,
                  num_res_blocks=[2, 2, 2], transformer_depth=[0, 0, 2, 2, 10, 10], channel_mult=[1, 2, 4],
                  transformer_depth_middle=10, use_linear_in_transformer=True, context_dim=2048,
                  num_head_channels=64, num_heads=-1,
                  transformer_depth_output=[0, 0, 0, 2, 2, 2, 10, 10, 10],
                  use_temporal_attention=False, use_temporal_resblock=False)
    latent, text = (4, 128, 128), 77
    if tiny:  # GroupNorm needs channels divisible by 32
        config.update(adm_in_channels=16, model_channels=32, transformer_depth=[0, 0, 1, 1, 1, 1],
                      transformer_depth_middle=1, transformer_depth_output=[0, 0, 0, 1, 1, 1, 1, 1, 1],
                      context_dim=32, num_head_channels=16)
        latent, text = (4, 16, 16), 5

    def inputs(torch, device, dtype, batch):
        return dict(x=torch.randn(batch, *latent, device=device, dtype=dtype),
                    timesteps=torch.randint(0, 1000, (batch,), device=device).float(),
                    context=torch.randn(batch, text, config["context_dim"], device=device, dtype=dtype),
                    y=torch.randn(batch, config["adm_in_channels"], device=device, dtype=dtype))
    return UNetModel, config, inputs, 2


def sd35l_spec(tiny):
    """comfy/model_detection.py (mmdit) on the SD3.5 Large checkpoint: depth 38 (hidden 64 * 38 =
    2432, 38 heads of 64), pos_embed 192 x 192, RMS q/k norm, no x-block self-attention (that is
    SD3.5 Medium); supported_models.SD3 adds pos_embed_scaling_factor None. Context: CLIP-L and
    CLIP-G's 77 tokens padded to 4096 wide, then T5-XXL's 77: 154 tokens (comfy/text_encoders/sd3_clip.py)."""
    from comfy.ldm.modules.diffusionmodules.mmdit import OpenAISignatureMMDITWrapper
    depth, pos, context_in = 38, 192, 4096
    latent, text, adm = (16, 128, 128), 154, 2048
    if tiny:
        depth, pos, context_in = 2, 8, 32
        latent, text, adm = (16, 16, 16), 6, 16
    config = dict(in_channels=16, patch_size=2, out_channels=16, depth=depth, input_size=None, adm_in_channels=adm,
                  context_embedder_config={"target": "torch.nn.Linear",
                                           "params": {"in_features": context_in, "out_features": 64 * depth}},
                  num_patches=pos * pos, pos_embed_max_size=pos, qk_norm="rms", pos_embed_scaling_factor=None,
                  x_block_self_attn_layers=[])

    def inputs(torch, device, dtype, batch):
        return dict(x=torch.randn(batch, *latent, device=device, dtype=dtype),
                    timesteps=torch.rand(batch, device=device) * 1000,
                    context=torch.randn(batch, text, context_in, device=device, dtype=dtype),
                    y=torch.randn(batch, adm, device=device, dtype=dtype))
    return OpenAISignatureMMDITWrapper, config, inputs, 2


def wan13b720_spec(tiny):
    """Wan 2.1 1.3B at 720p (1280 x 720), 81 frames: 21 latent frames of 90 x 160, 21 * 45 * 80 =
    75,600 tokens; outside the default set, whose Wan 1.3B shape (32,760 tokens) is 2.3x away."""
    return wan13b_spec(tiny, latent_hw=(90, 160))


SPECS = {"wan13b": wan13b_spec, "wan13b720": wan13b720_spec, "flux": flux_spec, "sdxl": sdxl_spec,
         "sd35l": sd35l_spec}


def build_model(torch, name, tiny, device, dtype, operations, std):
    cls, config, inputs, batch = SPECS[name](tiny)
    # Built as ComfyUI builds it (outside inference mode: parameters that are inference tensors
    # would refuse later uses); only the filling runs without autograd.
    model = cls(**dict(config, device=device, dtype=dtype, operations=operations)).eval().requires_grad_(False)
    with torch.no_grad():
        randomize(torch, model, std)
    return model, inputs, batch, config


def randomize(torch, model, std):
    """Every parameter, and every floating buffer a state dict would hold (MMDiT's pos_embed is
    one, made with torch.empty), gets random values in place: ComfyUI's operations skip
    initialisation, so they hold whatever the allocator left. Norm layers (class name containing
    'Norm') get weight 1 and bias 0, so that normalised q and k keep unit spread."""
    for module in model.modules():
        is_norm = "Norm" in type(module).__name__
        for pname, p in list(module.named_parameters(recurse=False)) + list(module.named_buffers(recurse=False)):
            if p is None or not p.is_floating_point():
                continue
            if is_norm and pname in ("weight", "scale"):
                p.fill_(1.0)
            elif is_norm and pname == "bias":
                p.zero_()
            else:
                p.normal_(0.0, std)


def attention_calls(torch, name, tiny, dtype, operations):
    """The model's attention calls in one step, counted by shape: one forward on the meta device
    (no memory, no compute; about 2 s for all four at full size), with an override that records
    each call and returns an empty output of the right shape. Returns (params, [(batch, heads,
    head_dim, q_len, kv_len, layout, calls)])."""
    import collections
    cls, config, inputs, batch = SPECS[name](tiny)
    model = cls(**dict(config, device="meta", dtype=dtype, operations=operations))
    seen = collections.Counter()

    def record(func, q, k, v, *args, **kwargs):
        heads = args[0] if args else kwargs["heads"]
        if kwargs.get("skip_reshape", False):
            b, h, lq, d = q.shape
            lk, layout = k.shape[2], "bhld"
        else:
            b, lq, inner = q.shape
            h, d, lk, layout = heads, inner // heads, k.shape[1], "blhd_flat"
        seen[(b, h, d, lq, lk, layout)] += 1
        if kwargs.get("skip_output_reshape", False):
            return q.new_empty(b, h, lq, d)
        return q.new_empty(b, lq, h * d)
    with torch.inference_mode():
        model(**inputs(torch, torch.device("meta"), dtype, batch),
              transformer_options={"optimized_attention_override": record})
    return model_params(model), [key + (n,) for key, n in seen.items()]


def model_params(model):
    return sum(p.numel() for p in model.parameters())


# ---------------------------------------------------------------------------------------------
# ComfyUI's flags, in-process.

ATTENTION_FLAGS = ("--use-split-cross-attention", "--use-quad-cross-attention", "--use-pytorch-cross-attention",
                   "--use-sage-attention", "--use-flash-attention", "--disable-xformers")


def flag_choice(flags, xformers_in_use, pytorch_enabled):
    """The registry name of the attention function ComfyUI a125cd84 picks under `flags`
    (comfy/ldm/modules/attention.py, the chain that sets optimized_attention, with
    comfy/model_management.py's ENABLE_PYTORCH_ATTENTION and XFORMERS_IS_AVAILABLE):
    sage, then xformers (unless --disable-xformers or --use-pytorch-cross-attention), flash,
    pytorch (the flag, or on by default on torch 2 CUDA unless split or quad is asked for),
    split, sub_quad. xformers_in_use and pytorch_enabled are what the process got at import
    under ComfyUI's default arguments. Pure, so it is tested without ComfyUI."""
    flags = set(flags)
    if "--use-sage-attention" in flags:
        return "sage"
    if xformers_in_use and not flags & {"--disable-xformers", "--use-pytorch-cross-attention"}:
        return "xformers"
    if "--use-flash-attention" in flags:
        return "flash"
    split_or_quad = flags & {"--use-split-cross-attention", "--use-quad-cross-attention"}
    if "--use-pytorch-cross-attention" in flags or (pytorch_enabled and not split_or_quad):
        return "pytorch"
    if "--use-split-cross-attention" in flags:
        return "split"
    return "sub_quad"


def flag_function(flags, attention, model_management, torch):
    """(function or None, note): the attention function ComfyUI would run under a decision's
    comfyui_args, or None where it is the one this process already runs (then note says so)."""
    flags = list(flags or [])
    unknown = [f for f in flags if f not in ATTENTION_FLAGS]
    name = flag_choice(flags, model_management.xformers_enabled(), model_management.pytorch_attention_enabled())
    fn = attention.get_attention_function(name, None)
    note = "flags {}: ComfyUI runs its '{}' function".format(" ".join(flags) or "(none)", name)
    if unknown:
        note += "; not attention flags of this ComfyUI, ignored: " + " ".join(unknown)
    if fn is None:
        return None, note + ", which is not registered here (library missing); the default is kept"
    if name == "pytorch" and not hasattr(torch.nn.functional, "scaled_dot_product_attention"):
        return None, note + ", which needs torch 2 (ComfyUI refuses the flag on torch {}); the default is kept".format(
            torch.__version__)
    if fn is attention.optimized_attention:
        return None, note + ", the default's"
    return fn, note + " for the calls the router leaves to ComfyUI"


# ---------------------------------------------------------------------------------------------
# Timing and statistics (pure, tested without a model).

# The step timer and the noise figure: node_step_bench.py's (CUDA events on the current stream, or
# wall time; interquartile range over the median, in percent).
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from node_step_bench import Timer, iqr_pct  # noqa: E402


def rotation(names, round_index):
    """Round r runs the configurations starting at the r-th, wrapping around."""
    n = len(names)
    return [names[(round_index + i) % n] for i in range(n)]


def summarize_rounds(times):
    """times: config -> seconds per step, one per round (round i of every config in one round).
    Returns config -> dict(median_s, iqr_pct, speedup, paired_speedup) against 'default'."""
    out = {}
    base = times.get("default")
    for name, samples in times.items():
        med = statistics.median(samples)
        row = {"median_s": med, "iqr_pct": iqr_pct(samples), "speedup": None, "paired_speedup": None}
        if base:
            row["speedup"] = statistics.median(base) / med
            row["paired_speedup"] = statistics.median(b / s for b, s in zip(base, samples))
        out[name] = row
    return out


def scaled_attention(func, *args, **kwargs):
    """An override that makes every attention output 1% larger (rel diff's yardstick)."""
    return func(*args, **kwargs) * 1.01


def relative_difference(torch, out, ref):
    out, ref = out.float(), ref.float()
    return ((out - ref).norm() / ref.norm().clamp_min(1e-30)).item()


# ---------------------------------------------------------------------------------------------

def machine_info(torch, cuda, args):
    info = {"torch": torch.__version__, "python": sys.version.split()[0]}
    if cuda:
        i = torch.cuda.current_device()
        props = torch.cuda.get_device_properties(i)
        info.update(gpu=props.name, capability="{}.{}".format(props.major, props.minor),
                    memory_gib=round(props.total_memory / 2 ** 30, 1), cuda=torch.version.cuda,
                    cudnn=str(torch.backends.cudnn.version()))
        try:
            smi = subprocess.run(["nvidia-smi", "--query-gpu=driver_version", "--format=csv,noheader", "-i", str(i)],
                                 capture_output=True, text=True, timeout=30)
            info["driver"] = smi.stdout.strip() or "unknown (nvidia-smi said nothing)"
        except (OSError, subprocess.SubprocessError) as e:
            info["driver"] = "unknown (nvidia-smi: {})".format(type(e).__name__)
    else:
        info.update(gpu="none (CPU run)", driver="-")
    info["comfyui_commit"] = args.comfyui_commit or comfyui_commit(args.comfyui)
    try:
        with open(os.path.join(args.comfyui, "comfyui_version.py")) as f:
            m = re.search(r"__version__\s*=\s*['\"]([^'\"]+)", f.read())
        info["comfyui_version"] = m.group(1) if m else "unknown"
    except OSError:
        info["comfyui_version"] = "unknown (no comfyui_version.py)"
    libs = {}
    for name in ("sageattention", "flash_attn_interface", "flash_attn", "xformers"):
        mod = sys.modules.get(name)
        if mod is not None:
            libs[name] = getattr(mod, "__version__", "imported")
    info["attention_libraries"] = libs
    info["absent_optional_modules"] = [m for m in OPTIONAL_MODULES if not module_exists(m)]
    return info


def module_exists(name):
    import importlib.util
    try:
        return importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):
        return False


def comfyui_commit(directory):
    try:
        r = subprocess.run(["git", "-C", directory, "rev-parse", "HEAD"], capture_output=True, text=True, timeout=10)
        if r.returncode == 0 and r.stdout.strip():
            return r.stdout.strip()
    except (OSError, subprocess.SubprocessError):
        pass
    return "unknown (not a git checkout; pass --comfyui-commit, e.g. from the tarball's name)"


def load_router(path, args, attention, model_management, torch, decision_mod, build_router, device_name):
    """(override, router, note) for a decision file, built as the node builds it; the override
    is the router itself, or the router with the flags' function as ComfyUI's."""
    dec = decision_mod.load(path)
    if not args.cpu:
        stale = decision_mod.staleness(dec, device_name, torch.__version__)
        if stale and not args.no_staleness_check:
            raise SystemExit(stale + " (pass --no-staleness-check to time it anyway)")
    with open(path, encoding="utf-8") as f:
        flags = json.load(f).get("comfyui_args") or []
    router = build_router(dec, attention)
    fn, note = flag_function(flags, attention, model_management, torch)
    if fn is None:
        override = router
    else:
        def override(func, *a, **kw):
            return router(fn, *a, **kw)
    desc = "{} ({}, mechanism {}, default {}, {} routes); {}".format(
        path, dec.source, dec.mechanism, dec.default_backend, len(dec.routes), note)
    if router.unavailable:
        desc += "; not available here: " + "; ".join("{} ({})".format(k, v) for k, v in router.unavailable.items())
    return override, router, desc


def main(argv=None):
    args = parse_args(argv)
    # The node's package before comfy: imported with comfy loaded, its __init__ would install
    # itself into ComfyUI's ModelPatcher (comfyui_node/__init__.py).
    sys.path[:0] = [REPO, os.path.abspath(args.comfyui)]
    import torch
    from comfyui_node import decision as decision_mod
    from comfyui_node.hook import build_router

    # comfy/cli_args.py parses [] unless comfy.options.enable_args_parsing() was called, so the
    # script's argv never reaches it; ComfyUI's defaults, plus --cpu for a CPU run (its device
    # probe otherwise asks CUDA).
    import comfy.options  # noqa: F401
    import comfy.cli_args
    if args.cpu or args.shapes:
        comfy.cli_args.args.cpu = True
    import comfy.model_management as model_management
    import comfy.ops
    import comfy.ldm.modules.attention as attention

    # What ComfyUI does with weights already in the compute dtype (comfy.ops.pick_operations with
    # no manual cast): its layers, no initialisation, no casting.
    operations = comfy.ops.disable_weight_init
    os.makedirs(args.out, exist_ok=True)
    shape_rows = []
    for name in args.models:
        try:
            params, calls = attention_calls(torch, name, args.tiny, torch.bfloat16, operations)
        except Exception as e:  # a listing, not the measurement: the timed run goes on without it
            if args.shapes:
                raise
            print("[model_step_bench] {}: no attention shapes from the meta device ({}: {})".format(
                name, type(e).__name__, e), flush=True)
            continue
        for b, h, d, lq, lk, layout, n in calls:
            shape_rows.append({"model": name, "params_b": round(params / 1e9, 3), "batch": b, "heads": h,
                               "head_dim": d, "q_len": lq, "kv_len": lk, "layout": layout, "calls_per_step": n})
    write_csv(os.path.join(args.out, "attention_shapes.csv"), shape_rows)
    if args.shapes:
        text = "\n".join(shapes_table(shape_rows)) + "\n"
        print(text)
        return 0

    cuda = not args.cpu
    if cuda and not torch.cuda.is_available():
        raise SystemExit("no CUDA device; use --cpu --tiny for a CPU run")
    device = torch.device("cuda") if cuda else torch.device("cpu")
    dtype = {"bf16": torch.bfloat16, "fp16": torch.float16}[args.dtype] if cuda else torch.float32
    device_name = torch.cuda.get_device_name(torch.cuda.current_device()) if cuda else "cpu"

    notes = ["ComfyUI's default attention here: {} (xformers in use: {}, pytorch attention enabled: {})".format(
        attention.optimized_attention.__name__, model_management.xformers_enabled(),
        model_management.pytorch_attention_enabled())]
    overrides, routers = {"default": None}, {}
    sage = attention.get_attention_function("sage", None)
    if sage is None:
        notes.append("sage_flag skipped: sageattention does not import here, ComfyUI registered no 'sage' function")
    else:
        def sage_override(func, *a, **kw):
            return sage(*a, **kw)
        overrides["sage_flag"] = sage_override
    for config, path, what in (("static_table", args.table_decision, "--table-decision"),
                               ("autotune", args.decision, "--decision")):
        if not path:
            notes.append("{} skipped: no {} given".format(config, what))
            continue
        overrides[config], routers[config], desc = load_router(path, args, attention, model_management, torch,
                                                               decision_mod, build_router, device_name)
        notes.append("{}: {}".format(config, desc))
    configs = [c for c in CONFIGS if c in overrides]
    info = machine_info(torch, cuda, args)
    for n in notes:
        print("[model_step_bench] " + n, flush=True)

    timer = Timer(torch, cuda)
    rows, counters, model_notes = [], {}, {}
    for name in args.models:
        torch.manual_seed(0)
        if cuda:
            torch.cuda.reset_peak_memory_stats()
        t0 = time.perf_counter()
        model, make_inputs, batch, config = build_model(torch, name, args.tiny, device, dtype, operations,
                                                        args.init_std)
        inputs = make_inputs(torch, device, dtype, batch)
        timer.sync()
        build_s = time.perf_counter() - t0
        params = model_params(model)
        print("[model_step_bench] {}: {:.3f} B parameters, batch {}, built in {:.1f} s".format(
            name, params / 1e9, batch, build_s), flush=True)

        def step(config_name):
            override = overrides[config_name]
            # A fresh dict per step: some models write into transformer_options.
            options = {} if override is None else {"optimized_attention_override": override}
            return model(**inputs, transformer_options=options)

        outputs, counters[name] = {}, {}
        with torch.inference_mode():
            # Warm-up, default first: the process's first SDPA call is ComfyUI's own, as in ComfyUI
            # (torch settles its SDPA order at the first call; scripts/research/sdpa_state_probe.py).
            for c in configs:
                if c in routers:
                    routers[c].reset_stats()
                outputs[c] = step(c).float()
                if c in routers:
                    counters[name][c] = dict(routers[c].stats)
            # A yardstick for rel diff: random weights damp how much attention moves the output,
            # so the difference a 1% error in every attention output makes is shown beside it.
            probe = model(**inputs, transformer_options={"optimized_attention_override": scaled_attention})
            sensitivity = relative_difference(torch, probe, outputs["default"])
            del probe
            timer.sync()
            times = {c: [] for c in configs}
            for r in range(args.repeats):
                for c in rotation(configs, r):
                    a = timer.mark()
                    step(c)
                    b = timer.mark()
                    timer.sync()
                    times[c].append(timer.ms(a, b) / 1e3)
        summary = summarize_rounds(times)
        peak = torch.cuda.max_memory_allocated() / 2 ** 30 if cuda else None
        for c in configs:
            s = summary[c]
            rel = 0.0 if c == "default" else relative_difference(torch, outputs[c], outputs["default"])
            rows.append({"model": name, "config": c, "batch": batch, "params_b": round(params / 1e9, 3),
                         "s_per_step": round(s["median_s"], 6), "iqr_pct": s["iqr_pct"],
                         "speedup": round(s["speedup"], 4), "paired_speedup": round(s["paired_speedup"], 4),
                         "rel_diff": "{:.3e}".format(rel), "finite": bool(torch.isfinite(outputs[c]).all()),
                         "router_calls": sum(v for k, v in counters[name].get(c, {}).items()),
                         "router_counters": "; ".join("{} {}".format(k, v)
                                                      for k, v in sorted(counters[name].get(c, {}).items())),
                         "sensitivity_1pct": "{:.3e}".format(sensitivity), "repeats": args.repeats, "samples_s": " ".join("{:.6f}".format(t) for t in times[c])})
        model_notes[name] = "built in {:.1f} s{}; every attention output 1% larger moves the step's output by " \
            "{:.2e} (relative)".format(build_s, "" if peak is None else ", peak GPU memory {:.1f} GiB".format(peak),
                                       sensitivity)
        for c in configs:
            s = summary[c]
            print("[model_step_bench] {} {:13s} {:.4f} s/step  x{:.3f}  rel diff {}  {}".format(
                name, c, s["median_s"], s["speedup"],
                [r["rel_diff"] for r in rows if r["model"] == name and r["config"] == c][0],
                counters[name].get(c, "")), flush=True)
        # Frees the model before the next is built (step() sees these names, so assign, not del).
        model = inputs = outputs = make_inputs = None
        gc.collect()
        if cuda:
            torch.cuda.empty_cache()

    write_csv(os.path.join(args.out, "model_step.csv"), rows)
    text = report(args, info, notes, model_notes, configs, rows, shape_rows)
    with open(os.path.join(args.out, "model_step.md"), "w") as f:
        f.write(text)
    print(text)
    return 0


def write_csv(path, rows):
    with open(path, "w", newline="") as f:
        if rows:
            writer = csv.DictWriter(f, fieldnames=list(rows[0]))
            writer.writeheader()
            writer.writerows(rows)


def shapes_table(shape_rows):
    lines = ["| model | params (B) | batch | heads | head_dim | q_len | kv_len | layout | calls per step |",
             "|---|---|---|---|---|---|---|---|---|"]
    for r in shape_rows:
        lines.append("| {model} | {params_b} | {batch} | {heads} | {head_dim} | {q_len} | {kv_len} | {layout} | "
                     "{calls_per_step} |".format(**r))
    return lines


def machine_line(info):
    """machine_info's fields in one line: the GPU's capability, CUDA and cuDNN where there is one."""
    return "Machine: GPU {}{}; driver {}; torch {}{}; Python {}.".format(
        info["gpu"], " (sm {})".format(info["capability"]) if "capability" in info else "", info["driver"],
        info["torch"], ", CUDA {}, cuDNN {}".format(info["cuda"], info["cudnn"]) if "cuda" in info else "",
        info["python"])


def report(args, info, notes, model_notes, configs, rows, shape_rows):
    lines = ["# One sampling step of real ComfyUI model code, per attention configuration", "",
             machine_line(info),
             "ComfyUI {} (version {}), from {}.".format(info["comfyui_commit"], info["comfyui_version"], args.comfyui),
             "Attention libraries imported: {}.".format(
                 ", ".join("{} {}".format(k, v) for k, v in info["attention_libraries"].items()) or "none"),
             "Modules absent here (none is needed by these model classes): {}.".format(
                 ", ".join(info["absent_optional_modules"]) or "none"),
             "Weights random (normal, std {}; norm layers 1 and 0), {}; {} timed rounds after one warm-up step per "
             "configuration, each round every configuration once in a rotating order.".format(
                 args.init_std, "fp32 on the CPU, wall-clock time" if args.cpu else
                 "{} on the GPU, CUDA events around each step".format(args.dtype), args.repeats)]
    if args.tiny or args.cpu:
        lines.append("**Tiny models on the CPU: this checks the script's logic; the times mean nothing.**")
    lines += [""] + ["- " + n for n in notes] + [""]
    lines += ["## Seconds per step (median) and speedup against default", "",
              "speedup: ratio of the medians; paired: median of the per-round ratios. rel diff: "
              "||out - out_default|| / ||out_default||, same inputs and weights.", "",
              "| model | config | s/step | IQR % | speedup | paired | rel diff | finite |",
              "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append("| {model} | {config} | {s_per_step:.4f} | {iqr_pct} | {speedup:.3f}x | {paired_speedup:.3f}x | "
                     "{rel_diff} | {finite} |".format(**r))
    lines += ["", "## Router counters for one step (warm-up step)", "",
              "route:<id> a measured shape's winner; default:<id> the decision's default; comfy:<why> left to "
              "ComfyUI's function; fallback:<id> the backend raised. A call the router passes on without "
              "looking at it (before the router handles heads= as a keyword: Wan, SD3) counts nothing.", "",
              "| model | config | calls counted | counters |", "|---|---|---|---|"]
    for r in rows:
        if r["config"] in ("static_table", "autotune"):
            lines.append("| {model} | {config} | {router_calls} | {router_counters} |".format(**r))
    lines += ["", "## Attention calls per step (from a forward on the meta device)", ""] + shapes_table(shape_rows)
    lines += ["", "## Models", ""]
    for name, note in model_notes.items():
        params = [r["params_b"] for r in rows if r["model"] == name][0]
        lines.append("- {}: {} B parameters, {}.".format(name, params, note))
    fastest = {}
    for r in rows:
        if r["model"] not in fastest or r["s_per_step"] < fastest[r["model"]]["s_per_step"]:
            fastest[r["model"]] = r
    if "autotune" in configs:
        lines += ["", "## Autotune against its targets", ""]
        for name in model_notes:
            a = [r for r in rows if r["model"] == name and r["config"] == "autotune"][0]
            target = 1.17 if name == "wan13b" else 1.00
            best = fastest[name]
            within = a["s_per_step"] <= best["s_per_step"] * 1.02
            lines.append("- {}: {:.3f}x default (target >= {:.2f}x: {}); fastest {} ({:.4f} s), autotune within 2%: "
                         "{}".format(name, a["speedup"], target, "yes" if a["speedup"] >= target else "NO",
                                     best["config"], best["s_per_step"], "yes" if within else "NO"))
    lines.append("")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())

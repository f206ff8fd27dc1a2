"""Runs inside an unpacked real ComfyUI (test_real_comfyui.py starts it in its own process, so that
its `comfy` is ComfyUI's and not the stand-in's). Prints one JSON object on its last line.

    real_comfyui_child.py COMFYUI_DIR EINOPS_DIR STANDINS_DIR NODE_DIR [NODE_DIR...]

It starts ComfyUI's modules as `main.py --cpu` would, loads each NODE_DIR with
`nodes.load_custom_node` (how ComfyUI loads custom nodes), builds tiny instances of real model
classes, and runs each twice: with the transformer_options of a real ModelPatcher (which hold
the node's router) and with none (ComfyUI's own attention). The parent checks the results.
"""
import asyncio
import collections
import importlib.abc
import importlib.machinery
import json
import logging
import os
import sys
import types
from unittest import mock

# Python packages ComfyUI imports that Debian 12 does not package: faked at import (any name
# taken from them is a class that refuses to be instantiated). Only model loading from files
# and text encoding use them; nothing here does. einops, which Debian also lacks, is the real
# one from ../shared/comfyui.
FAKED = ("safetensors", "torchsde", "transformers", "tokenizers")
GPU = "NVIDIA Test GPU 80GB"  # the decision file's GPU (test_real_comfyui.py)


class _Faked:
    def __init__(self, *args, **kwargs):
        raise ImportError("{} is faked in this test (Debian 12 has no package for it)".format(type(self).__name__))


class _FakeModule(types.ModuleType):
    __path__ = []

    def __getattr__(self, name):
        if name.startswith("__"):
            raise AttributeError(name)
        value = type(name, (_Faked,), {})
        setattr(self, name, value)
        return value


class _FakeFinder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    def find_spec(self, fullname, path, target=None):
        if fullname.split(".")[0] in FAKED:
            return importlib.machinery.ModuleSpec(fullname, self, is_package=True)
        return None

    def create_module(self, spec):
        return _FakeModule(spec.name)

    def exec_module(self, module):
        pass


class LogLines(logging.Handler):
    def __init__(self):
        super().__init__()
        self.lines = []

    def emit(self, record):
        self.lines.append(record.getMessage())


def init_weights(model, seed=0):
    """ComfyUI's disable_weight_init layers leave weights uninitialised, and some buffers are made
    with torch.empty (MMDiT's pos_embed): small random values for all, or outputs may be NaN."""
    import torch
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in list(model.parameters()) + [b for b in model.buffers() if b.is_floating_point()]:
            p.copy_(torch.randn(p.shape, generator=g) * 0.2)
    return model


def models():
    """(name, module, run(module, transformer_options) -> output). Tiny dims, real classes.
    Each family's attention shapes differ (head_dim 32, 40, 16 and 64), so each has its own routes."""
    import torch
    import comfy.ops
    from comfy.ldm.flux.model import Flux
    from comfy.ldm.modules.attention import CrossAttention
    from comfy.ldm.modules.diffusionmodules.mmdit import OpenAISignatureMMDITWrapper
    from comfy.ldm.wan.model import WanModel
    ops = comfy.ops.disable_weight_init
    g = torch.Generator().manual_seed(1)

    def rand(*shape):
        return torch.randn(*shape, generator=g)

    t = torch.tensor([0.5])
    # Flux: 8x8 latent, patch 2 -> 16 image tokens + 6 text tokens; 2 heads x 32 (skip_reshape, (B, H, L, D)).
    flux = Flux(in_channels=4, out_channels=4, vec_in_dim=8, context_in_dim=16, hidden_size=64, mlp_ratio=2.0,
                num_heads=2, depth=1, depth_single_blocks=1, axes_dim=[8, 12, 12], theta=10000, patch_size=2,
                qkv_bias=True, guidance_embed=False, operations=ops)
    fx, fctx, fy = rand(1, 4, 8, 8), rand(1, 6, 16), rand(1, 8)
    # SDXL / SD1.5 CrossAttention: 2 heads x 40 (SD1.5's head_dim), 16 tokens, cross over 7 context tokens.
    self_attn = CrossAttention(80, heads=2, dim_head=40, operations=ops)
    cross_attn = CrossAttention(80, context_dim=24, heads=2, dim_head=40, operations=ops)
    ux, uctx = rand(2, 16, 80), rand(2, 7, 24)
    # Wan 2.1: 2 frames of 8x8, patch (1, 2, 2) -> 32 tokens; 2 heads x 16; 8 text tokens (heads=).
    wan = WanModel(dim=32, ffn_dim=64, freq_dim=16, text_dim=24, text_len=8, in_dim=4, out_dim=4, num_heads=2,
                   num_layers=1, operations=ops)
    wx, wctx = rand(1, 4, 2, 8, 8), rand(1, 8, 24)
    # SD3 MMDiT: depth 2 -> 2 heads x 64; 16 image + 5 text tokens in one joint attention (heads=).
    sd3 = OpenAISignatureMMDITWrapper(input_size=None, patch_size=2, in_channels=4, depth=2, adm_in_channels=8,
                                      context_embedder_config={"target": "torch.nn.Linear",
                                                               "params": {"in_features": 16, "out_features": 128}},
                                      pos_embed_max_size=8, num_patches=64, operations=ops)
    sx, sctx, sy = rand(1, 4, 8, 8), rand(1, 5, 16), rand(1, 8)
    mask = torch.ones(2, 16, 16, dtype=torch.bool)
    mask[:, :, -3:] = False
    return [
        ("flux", init_weights(flux), lambda m, o: m(fx, t, fctx, y=fy, transformer_options=o)),
        ("sdxl-self", init_weights(self_attn), lambda m, o: m(ux, transformer_options=o)),
        ("sdxl-cross", init_weights(cross_attn), lambda m, o: m(ux, context=uctx, transformer_options=o)),
        ("sdxl-self-masked", self_attn, lambda m, o: m(ux, mask=mask, transformer_options=o)),
        ("wan", init_weights(wan), lambda m, o: m(wx, t, wctx, transformer_options=o)),
        ("sd3", init_weights(sd3), lambda m, o: m(sx, t, context=sctx, y=sy, transformer_options=o)),
    ]


def library_calls():
    import flash_attn
    import flash_attn_interface
    import sageattention
    import xformers.ops
    return {"flash2": len(flash_attn.CALLS), "flash3": len(flash_attn_interface.CALLS),
            "sage": len(sageattention.CALLS), "xformers": len(xformers.ops.CALLS)}


def main():
    comfyui_dir, einops_dir, standins_dir = sys.argv[1:4]
    node_dirs = sys.argv[4:]
    sys.path[:0] = [comfyui_dir, einops_dir]
    sys.meta_path.insert(0, _FakeFinder())
    os.chdir(comfyui_dir)
    import comfy.cli_args
    comfy.cli_args.args.cpu = True  # what `main.py --cpu` sets; this machine has no GPU
    import nodes
    import comfy.ldm.modules.attention as attention
    import comfy.model_patcher
    import torch
    result = {"faked": list(FAKED), "comfy_default": attention.optimized_attention.__name__,
              "torch": torch.__version__, "nodes": []}

    # The attention libraries' stand-ins, for the node's adapters only: on the path after ComfyUI
    # chose its own default (sub-quadratic attention on a CPU with torch 1.13), which stays ComfyUI's.
    sys.path.insert(0, standins_dir)
    log = LogLines()
    logging.getLogger("comfyui_attention_autotune").addHandler(log)
    logging.getLogger("comfyui_attention_autotune").setLevel(logging.INFO)
    routers = []
    for node_dir in node_dirs:
        # The decision was made for GPU; the node asks torch for the device's name.
        with mock.patch.object(torch.cuda, "is_available", return_value=True), \
                mock.patch.object(torch.cuda, "current_device", return_value=0), \
                mock.patch.object(torch.cuda, "get_device_name", return_value=GPU):
            loaded = asyncio.run(nodes.load_custom_node(node_dir))
        module = sys.modules.get(node_dir.replace(".", "_x_"))
        router = getattr(module, "ROUTER", None) if module is not None else None
        if router is None and module is not None:  # the repository root re-exports the package
            inner = sys.modules.get(node_dir.replace(".", "_x_") + ".comfyui_node")
            router = getattr(inner, "ROUTER", None)
        routers.append(router)
        result["nodes"].append({"dir": node_dir, "loaded": loaded, "router": router is not None,
                                "mappings": getattr(module, "NODE_CLASS_MAPPINGS", None) == {}})
    result["log"] = log.lines
    router = routers[-1]
    if router is None:
        print(json.dumps(result))
        return

    patcher = comfy.model_patcher.ModelPatcher(torch.nn.Linear(1, 1), torch.device("cpu"), torch.device("cpu"))
    clone = patcher.clone()
    options = clone.model_options["transformer_options"]
    result["patcher_has_router"] = patcher.model_options["transformer_options"].get(
        "optimized_attention_override") is router
    result["clone_has_router"] = options.get("optimized_attention_override") is router

    result["models"] = {}
    for name, model, run in models():
        before, calls_before = collections.Counter(router.stats), library_calls()
        with torch.no_grad():
            routed = run(model, options)
            middle = collections.Counter(router.stats)
            own = run(model, {})
        after, calls_after = collections.Counter(router.stats), library_calls()
        result["models"][name] = {
            "stats": {k: middle[k] - before[k] for k in middle if middle[k] != before[k]},
            "stats_without_router": {k: after[k] - middle[k] for k in after if after[k] != middle[k]},
            "library_calls": {k: calls_after[k] - calls_before[k] for k in calls_after
                              if calls_after[k] != calls_before[k]},
            "shape": list(routed.shape),
            "finite": bool(torch.isfinite(routed).all() and torch.isfinite(own).all()),
            "max_abs_diff": float((routed - own).abs().max()),
            "max_abs": float(own.abs().max()),
        }
    result["sampling"] = sampling(router, wan_model=dict((n, m) for n, m, _ in models())["wan"])
    result["prompts"] = prompts(router, wan_model=dict((n, m) for n, m, _ in models())["wan"])
    print(json.dumps(result))


def sampling(router, wan_model):
    """Wan 2.1 through ComfyUI's own k-diffusion samplers (Euler: one evaluation a step; Heun: two)
    on ComfyUI's Karras schedule, with transformer_options as comfy/samplers.py fills them:
    "sample_sigmas" once per run (CFGGuider.inner_sample), "sigmas" each evaluation's timestep
    (_calc_cond_batch). Returns, per sampler, the counter the self-attention call of each
    evaluation went to, and the sigmas."""
    import torch
    import comfy.k_diffusion.sampling as kd
    import comfy.model_patcher
    patcher = comfy.model_patcher.ModelPatcher(wan_model, torch.device("cpu"), torch.device("cpu")).clone()
    g = torch.Generator().manual_seed(5)
    wx, wctx = torch.randn(1, 4, 2, 8, 8, generator=g), torch.randn(1, 8, 24, generator=g)
    sigmas = kd.get_sigmas_karras(5, 0.03, 14.6)  # 5 steps, then 0
    out = {"sigmas": sigmas.tolist()}
    for name, sampler in (("euler", kd.sample_euler), ("heun", kd.sample_heun)):
        model_options = comfy.model_patcher.create_model_options_clone(patcher.model_options)
        model_options.setdefault("transformer_options", {})["sample_sigmas"] = sigmas
        ran = []

        def model(x, sigma, **kwargs):
            options = dict(model_options["transformer_options"], sigmas=sigma)
            before = collections.Counter(router.stats)
            with torch.no_grad():
                y = wan_model(x, sigma, wctx, transformer_options=options)
            after = collections.Counter(router.stats)
            ran.append(sorted(k for k in after if after[k] != before[k] and "xformers" not in k))
            return y

        final = sampler(model, wx * sigmas[0], sigmas, disable=True)
        out[name] = {"ran": ran, "finite": bool(torch.isfinite(final).all())}
    return out


class _Server:
    """What PromptExecutor needs of ComfyUI's PromptServer when no browser is connected."""
    client_id = None
    last_node_id = None

    def send_sync(self, *args, **kwargs):
        pass


def prompts(router, wan_model):
    """Two prompts through ComfyUI's own PromptExecutor (execution.py), each running Wan 2.1 under
    a real ModelPatcher: the decision file changes in the middle of the first (a background tune
    landing), which must keep its routes; the second must run the new ones. The shapes must be
    recorded beside the decision, with the family from the ModelPatcher's model."""
    import torch
    import comfy.model_patcher
    import execution
    import nodes
    decision_path = os.environ["COMFYUI_ATTENTION_DECISION"]
    patcher = comfy.model_patcher.ModelPatcher(wan_model, torch.device("cpu"), torch.device("cpu")).clone()
    g = torch.Generator().manual_seed(3)
    wx, wctx, t = torch.randn(1, 4, 2, 8, 8, generator=g), torch.randn(1, 8, 24, generator=g), torch.tensor([0.5])
    seen_stats = []

    class AttentionProbe:
        @classmethod
        def INPUT_TYPES(cls):
            return {"required": {"tag": ("STRING", {"default": ""})}}
        RETURN_TYPES = ()
        OUTPUT_NODE = True
        FUNCTION = "run"
        CATEGORY = "test"

        def run(self, tag):
            before = collections.Counter(router.stats)
            for step in range(2):
                patcher.prepare_state(t)  # what comfy/samplers.py does before each model evaluation
                with torch.no_grad():
                    wan_model(wx, t, wctx, transformer_options=patcher.model_options["transformer_options"])
                if tag == "first" and step == 0:
                    with open(decision_path) as f:
                        doc = json.load(f)
                    for r in doc["routes"]:
                        if r["workload"] == "wan-self":
                            r["backend"] = "flash2"
                            r.pop("exact_backend", None)  # exact itself: no exact steps to add
                    tmp = decision_path + ".new"
                    with open(tmp, "w") as f:
                        json.dump(doc, f)
                    os.replace(tmp, decision_path)
            after = collections.Counter(router.stats)
            seen_stats.append({k: after[k] - before[k] for k in after if after[k] != before[k]})
            return {}

    nodes.NODE_CLASS_MAPPINGS["AttentionProbe"] = AttentionProbe
    executor = execution.PromptExecutor(_Server())
    for tag in ("first", "second"):
        executor.execute({"1": {"class_type": "AttentionProbe", "inputs": {"tag": tag}}}, tag, {}, ["1"])
    seen_file = os.path.splitext(decision_path)[0] + ".seen.json"
    with open(seen_file) as f:
        recorded = json.load(f)
    return {"stats": seen_stats, "success": executor.success, "seen": recorded,
            "wrapped": hasattr(execution.PromptExecutor.execute_async, "__wrapped__")}


if __name__ == "__main__":
    main()

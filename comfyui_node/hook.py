"""Installing the router in a running ComfyUI.

How the router reaches every model (verified against ComfyUI's sources, 2025-2026):
- comfy/ldm/modules/attention.py wraps each attention function with `wrap_attn`, which calls
  `transformer_options["optimized_attention_override"](func, *args, **kwargs)` when that key is
  present in the call's transformer_options; models pass their transformer_options to
  `optimized_attention(..., transformer_options=...)` (Flux: comfy/ldm/flux/math.py, `attention`).
- comfy/samplers.py (`_calc_cond_batch`) merges the ModelPatcher's
  `model_options["transformer_options"]` into the transformer_options of every model call.
- Every diffusion model ComfyUI loads is wrapped in a comfy.model_patcher.ModelPatcher, and
  `ModelPatcher.__init__` creates `model_options = {"transformer_options": {}}`; `clone()`
  builds a new ModelPatcher and then copies the parent's model_options over it.
So the node wraps `ModelPatcher.__init__` to put the router into each new patcher's
transformer_options with setdefault. This reaches every model without a node in the workflow.
Models keep the key through clones, and a workflow node that installs its own override (KJNodes'
Patch Sage Attention, for example) replaces it on its clone: the user's explicit choice wins.
Replacing `attention.optimized_attention` is not an option: model modules bind it with
`from comfy.ldm.modules.attention import optimized_attention` before custom nodes load.

ComfyUI before the registry (September 2025) has no `wrap_attn`, `register_attention_function`
or override key: the node says so and does nothing.
"""
import os

from . import backends, busy, decision, routing, seen
from .router import PREFIX, Router, log

_INIT_MARK = "_attention_autotune_router"
REGISTRY_NAMES = ("register_attention_function", "get_attention_function", "wrap_attn")


def _current_device_name(torch):
    if not torch.cuda.is_available():
        return None
    return torch.cuda.get_device_name(torch.cuda.current_device())


def install(attention=None, patcher_cls=None, environ=None, device_name=None, torch_version=None,
            logger=log, executor_cls=None, clock=None):
    """Installs the router for every ModelPatcher created from now on; returns it, or None
    when the node stays inert (after one log line saying why)."""
    environ = os.environ if environ is None else environ
    if environ.get("COMFYUI_ATTENTION_AUTOTUNE", "1").strip() == "0":
        logger.info("%sdisabled by COMFYUI_ATTENTION_AUTOTUNE=0; ComfyUI's attention is unchanged", PREFIX)
        return None
    if attention is None or patcher_cls is None:
        try:
            import comfy.ldm.modules.attention as attention_module
            import comfy.model_patcher as model_patcher_module
        except Exception as e:
            logger.warning("%scannot import ComfyUI's attention module (%s: %s); inert", PREFIX,
                           type(e).__name__, e)
            return None
        attention = attention if attention is not None else attention_module
        patcher_cls = patcher_cls if patcher_cls is not None else model_patcher_module.ModelPatcher
    missing = [name for name in REGISTRY_NAMES if not hasattr(attention, name)]
    if missing:
        logger.warning("%sthis ComfyUI has no attention registry (%s missing from %s; it arrived in "
                       "September 2025); per-shape routing needs a newer ComfyUI. ComfyUI's attention "
                       "is unchanged", PREFIX, ", ".join(missing), attention.__name__)
        return None

    path = decision.decision_path(environ)
    try:
        dec = decision.load(path)
    except decision.DecisionError as e:
        logger.warning("%s%s; inert, ComfyUI's attention is unchanged", PREFIX, e)
        return None

    import torch
    if device_name is None:
        device_name = _current_device_name(torch)
        if device_name is None:
            logger.warning("%sno CUDA device in this process; inert, ComfyUI's attention is unchanged", PREFIX)
            return None
    torch_version = torch.__version__ if torch_version is None else torch_version
    stale = decision.staleness(dec, device_name, torch_version)
    if stale is not None:
        logger.warning("%s%s; inert until autotune runs again, ComfyUI's attention is unchanged",
                       PREFIX, stale)
        return None

    router = build_router(dec, attention, logger, environ)
    _register(router, attention)
    boundary, note = _install_boundary(router, dec, attention, executor_cls, device_name, torch_version, logger,
                                       clock, environ)
    _hook_patcher(patcher_cls, router, boundary)
    logger.info("%s%s%s", PREFIX, describe(dec, router), note)
    return router


def _install_boundary(router, dec, attention, executor_cls, device_name, torch_version, logger, clock,
                      environ=None):
    """Records shapes and reloads the decision at ComfyUI's prompt boundary (seen.py), where
    there is one; without it the routes stay those of the start. Returns (boundary or None, a
    note for the one line the node logs at start)."""
    if executor_cls is None:
        try:
            import execution  # ComfyUI's top-level execution.py, imported by main.py before custom nodes
            executor_cls = execution.PromptExecutor
        except Exception as e:
            return None, ("; no ComfyUI prompt executor ({}: {}): shapes are not recorded and a new decision "
                          "applies at the next start".format(type(e).__name__, e))

    def build(new_dec):
        fresh = build_router(new_dec, attention, logger, environ)
        _register(fresh, attention)
        return fresh

    recorder = seen.Recorder(router, seen.seen_path(dec.path), **({"clock": clock} if clock else {}))
    reloader = seen.Reloader(router, dec.path, dec, build, device_name, torch_version, logger, PREFIX)
    boundary = seen.Boundary(reloader, recorder, logger, PREFIX, busy.PromptMarker(busy.busy_path(dec.path)))
    seen.wrap_executor(executor_cls, boundary)
    router.boundary = boundary
    return boundary, ("; records shapes to {} and reloads a changed decision between prompts; marks a running "
                      "prompt in {} for a tune to wait for").format(recorder.path, boundary.marker.path)


def build_router(dec, attention, logger=log, environ=None):
    wanted = [dec.default_backend] + [r.backend for r in dec.routes] + [r.exact_backend for r in dec.routes
                                                                        if r.exact_backend]
    try:
        exact_steps, _ = decision.exact_steps(dec, environ)
    except decision.DecisionError as e:
        exact_steps = dec.exact_steps or 0
        logger.warning("%s%s; the decision's %d exact steps apply", PREFIX, e, exact_steps)
    adapters, unavailable = {}, {}
    for backend_id in dict.fromkeys(wanted):
        if backend_id not in decision.BACKEND_IDS:
            unavailable[backend_id] = "unknown adapter id (known: {})".format(", ".join(decision.BACKEND_IDS))
            logger.warning("%sdecision file %s names unknown backend %r (known: %s); its shapes use "
                           "ComfyUI's attention", PREFIX, dec.path, backend_id, ", ".join(decision.BACKEND_IDS))
            continue
        try:
            adapters[backend_id] = backends.make_adapter(backend_id, attention, dec.comfyui_sdpa)
        except backends.Unavailable as e:
            unavailable[backend_id] = str(e)
    return Router(routing.RouteTable(dec.routes, dec.default_backend), adapters, unavailable, logger,
                  exact_steps=exact_steps)


def _register(router, attention):
    # Under its own name (autotune_<id>) so that other nodes can pick e.g. FA3 by name through
    # get_attention_function; ComfyUI's own functions are already registered under theirs.
    for backend_id, fn in router.adapters.items():
        if backend_id in backends.COMFY_REGISTERED:
            continue
        name = "autotune_" + backend_id
        if attention.get_attention_function(name, None) is None:
            attention.register_attention_function(name, attention.wrap_attn(fn))


def _hook_patcher(patcher_cls, router, boundary=None):
    original = patcher_cls.__init__
    if getattr(original, _INIT_MARK, None) is not None:  # installed before (node reloaded)
        original = original.__wrapped__

    def __init__(self, *args, **kwargs):
        original(self, *args, **kwargs)
        options = getattr(self, "model_options", None)
        if isinstance(options, dict):
            options.setdefault("transformer_options", {}).setdefault("optimized_attention_override", router)
        # One model evaluation per call (comfy/samplers.py, _calc_cond_batch): the recorder's step.
        # Under a key, so a clone's copy of the parent's callbacks replaces it, not doubles it.
        if boundary is not None and hasattr(self, "add_callback_with_key"):
            self.add_callback_with_key("on_prepare_state", seen.CALLBACK_KEY, boundary.on_prepare_state)

    __init__.__wrapped__ = original
    setattr(__init__, _INIT_MARK, router)
    patcher_cls.__init__ = __init__


def describe(dec, router):
    parts = ["applied {} ({}, mechanism {}, decided {}): default {}".format(
        dec.path, dec.source, dec.mechanism, dec.decided_at, dec.default_backend)]
    for r in dec.routes:
        parts.append("{} [{}] -> {}".format(r.workload, r.shape_text(), r.backend)
                     + (" ({} on the first and last {} steps)".format(r.exact_backend, router.exact_steps)
                        if r.exact_backend and router.exact_steps else ""))
    if dec.quality_level:
        parts.append("quality {}".format(dec.quality_level))
    text = "; ".join(parts)
    if router.unavailable:
        text += "; not available here: " + "; ".join(
            "{} ({})".format(k, v) for k, v in router.unavailable.items())
    return text

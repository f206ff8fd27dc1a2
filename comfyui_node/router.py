"""The per-call router: ComfyUI's `optimized_attention_override`.

ComfyUI's wrap_attn (comfy/ldm/modules/attention.py) calls override(func, *args, **kwargs),
where func is the attention function the model was going to run (ComfyUI's default) and args
and kwargs are that call's (q, k, v, heads, ...). The router looks the call's shape up once,
caches the answer in a dict keyed by the shape, and from then on costs one dict lookup and a
counter increment per call (DESIGN.md: ComfyUI's own PyTorch path spends ~150 us of host time
per call; the target here is at most 10 us over the routed function).
"""
import collections
import logging

from . import routing
from .decision import BACKEND_IDS

log = logging.getLogger("comfyui_attention_autotune")
PREFIX = "[attention-autotune] "


class Router:
    def __init__(self, table, adapters, unavailable, logger=log):
        """table: routing.RouteTable; adapters: id -> function; unavailable: id -> reason."""
        self.table = table
        self.adapters = dict(adapters)
        self.unavailable = dict(unavailable)
        self.log = logger
        self.stats = collections.Counter()  # "route:<id>", "default:<id>", "comfy:<why>", "fallback:<id>"
        self.failures = collections.Counter()
        self._cache = {}
        self._logged = set()

    # ComfyUI copies model_options (deepcopy in older versions, copy_nested_dicts in newer):
    # every copy must keep this one router, its cache and its counters.
    def __copy__(self):
        return self

    def __deepcopy__(self, memo):
        return self

    def __call__(self, func, *args, **kwargs):
        n = len(args)
        if n < 4:
            return func(*args, **kwargs)
        q = args[0]
        if (args[4] if n > 4 else kwargs.get("mask")) is not None:
            return func(*args, **kwargs)
        skip = args[6] if n > 6 else kwargs.get("skip_reshape", False)
        key = (q.shape, args[1].shape, args[3], skip, q.dtype)
        entry = self._cache.get(key)
        if entry is None:
            entry = self._cache[key] = self._resolve(q, args[1], args[3], skip)
        fn, stat, backend = entry
        if fn is None:
            self.stats[stat] += 1
            return func(*args, **kwargs)
        if backend == "sage" and kwargs.get("low_precision_attention", True) is False:
            # A model asked for full precision (ComfyUI's own sage path honours this too).
            self.stats["comfy:low_precision_attention=False"] += 1
            return func(*args, **kwargs)
        try:
            out = fn(*args, **kwargs)
        except Exception as e:
            return self._fail(key, backend, e, func, args, kwargs)
        self.stats[stat] += 1
        return out

    def _resolve(self, q, k, heads, skip):
        if skip:
            b, _, q_len, head_dim = q.shape
            kv_len = k.shape[2]
        else:
            b, q_len, inner = q.shape
            head_dim = inner // heads
            kv_len = k.shape[1]
        backend, how, _ = self.table.lookup(head_dim, q_len, kv_len, b * heads)
        kind = "default" if how == routing.DEFAULT else "route"
        fn = self.adapters.get(backend)
        if fn is not None:
            return fn, "{}:{}".format(kind, backend), backend
        if how != routing.DEFAULT:
            # The shape's winner cannot run here: the decision's default, if it can.
            default = self.table.default_backend
            fn = self.adapters.get(default)
            if fn is not None:
                return fn, "default:{} ({} {})".format(default, backend, self._why(backend)), default
        return None, "comfy:{} {}".format(backend, self._why(backend)), backend

    def _why(self, backend):
        if backend not in BACKEND_IDS:
            return "unknown"
        return "unavailable"

    def _fail(self, key, backend, error, func, args, kwargs):
        self.failures[backend] += 1
        self.stats["fallback:{}".format(backend)] += 1
        # This shape stays on ComfyUI's function from now on: a backend that cannot run a shape
        # would otherwise cost the failed attempt on every call (DESIGN.md, ComfyUI facts).
        self._cache[key] = (None, "comfy:{} failed".format(backend), backend)
        if backend not in self._logged:
            self._logged.add(backend)
            self.log.warning("%s%s failed (%s: %s); this shape now uses ComfyUI's attention, "
                             "other %s shapes are still routed", PREFIX, backend,
                             type(error).__name__, error, backend)
        return func(*args, **kwargs)

    def summary(self):
        return ", ".join("{} {}".format(k, v) for k, v in sorted(self.stats.items())) or "no calls"

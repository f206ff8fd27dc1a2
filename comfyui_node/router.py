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

# ComfyUI's attention-function signature after (q, k, v): what may come by position.
_POSITIONAL = ("heads", "mask", "attn_precision", "skip_reshape", "skip_output_reshape")
# Keywords every adapter honours as ComfyUI's functions do: mask is checked (masked calls stay on
# ComfyUI's function), attn_precision is ignored as ComfyUI's SDPA, sage and flash paths ignore it,
# low_precision_attention is checked for sage, transformer_options and wrap_attn's marker are
# ComfyUI's plumbing. A call with any other keyword (scale=, enable_gqa= in 2026 ComfyUI) goes to
# ComfyUI's function: an adapter would drop it silently and compute something else.
_HONOURED = frozenset(_POSITIONAL + ("low_precision_attention", "transformer_options", "_inside_attn_wrapper"))


def _floats(x):
    """A tensor's or a sequence's values as a list of floats."""
    if hasattr(x, "detach"):
        x = x.detach().flatten().tolist()
    return [float(v) for v in x]


class Router:
    def __init__(self, table, adapters, unavailable, logger=log, exact_steps=0):
        """table: routing.RouteTable; adapters: id -> function; unavailable: id -> reason;
        exact_steps: the first and last sampling steps on which a route with an exact_backend runs
        it (0: never)."""
        self.table = table
        self.adapters = dict(adapters)
        self.unavailable = dict(unavailable)
        self.exact_steps = exact_steps
        self.log = logger
        # The step of the model evaluation running now, by its transformer_options["sigmas"]
        # tensor: one object for all the attention calls of one evaluation (comfy/samplers.py,
        # _calc_cond_batch), so the step is worked out once per evaluation (_exact_now).
        self._step_sigmas = None
        self._step_exact = False
        self._schedule_of = None  # the sample_sigmas object _schedule was read from
        self._schedule = None
        # One counter cell per stat name ("route:<id>", "default:<id>", "comfy:<why>",
        # "fallback:<id>"); a shape's cache entry holds its cell, so counting a routed call is one
        # list increment (a Counter's += 1 took about 100 ns more, router_microbench.py).
        self._cells = {}
        # Per shape (router cache key -> its cell): each shape's cache entry holds a cell of its
        # own, listed here under its stat name, so the calls per shape that seen.py records cost
        # the hot path nothing more than the stat count it already makes.
        self.shape_cells = {}
        self.failures = collections.Counter()
        self._cache = {}
        self._logged = set()

    @property
    def stats(self):
        """Calls per outcome, as a Counter (a snapshot)."""
        out = collections.Counter({name: cell[0] for name, cell in self._cells.items() if cell[0]})
        for cells in self.shape_cells.values():
            for name, cell in cells:
                if cell[0]:
                    out[name] += cell[0]
        return out

    def reset_stats(self):
        for cell in self._cells.values():
            cell[0] = 0
        for cells in self.shape_cells.values():
            for _, cell in cells:
                cell[0] = 0

    def apply(self, table, adapters, unavailable, exact_steps=None):
        """A new decision's routes, from the next call on (seen.py calls it between prompts).
        The per-shape cache is emptied, so every shape is looked up again; counts are kept."""
        self.table = table
        self.adapters = dict(adapters)
        self.unavailable = dict(unavailable)
        if exact_steps is not None:
            self.exact_steps = exact_steps
        self._cache = {}
        self._step_sigmas = None

    def _shape_cell(self, key, name):
        cell = [0]
        self.shape_cells.setdefault(key, []).append((name, cell))
        return cell

    def _cell(self, name):
        cell = self._cells.get(name)
        if cell is None:
            cell = self._cells[name] = [0]
        return cell

    def route_of(self, q, k, heads, skip_reshape=False):
        """(function, counter name) for an unmasked call with these inputs; the function is None
        where the call goes to ComfyUI's own. For benchmarks and reports: the hot path is __call__."""
        key = (q.shape, k.shape, heads, skip_reshape, q.dtype)
        entry = self._cache.get(key)
        if entry is None:
            entry = self._cache[key] = self._resolve(key, q, k, heads, skip_reshape)
        name = next(n for n, cell in self.shape_cells[key] if cell is entry[1])
        return entry[0], name

    def _count(self, name):
        self._cell(name)[0] += 1

    # ComfyUI copies model_options (deepcopy in older versions, copy_nested_dicts in newer):
    # every copy must keep this one router, its cache and its counters.
    def __copy__(self):
        return self

    def __deepcopy__(self, memo):
        return self

    def __call__(self, func, *args, **kwargs):
        if len(args) == 4:  # heads positional: Flux, SDXL/SD1.5 CrossAttention, HunyuanVideo
            heads = args[3]
        elif len(args) == 3:  # heads=: Wan, SD3/MMDiT, ACE-Step
            heads = kwargs.get("heads")
            if heads is None:
                return self._to_comfy("no heads", func, args, kwargs)
        else:
            return self._positional(func, args, kwargs)
        if not _HONOURED.issuperset(kwargs):  # scale=, enable_gqa= (2026 ComfyUI), anything new
            return self._to_comfy(",".join(sorted(set(kwargs) - _HONOURED)), func, args, kwargs)
        if kwargs.get("mask") is not None:  # tuning measured unmasked attention
            self._count("comfy:mask")
            return func(*args, **kwargs)
        q = args[0]
        skip = kwargs.get("skip_reshape", False)
        key = (q.shape, args[1].shape, heads, skip, q.dtype)
        entry = self._cache.get(key)
        if entry is None:
            entry = self._cache[key] = self._resolve(key, q, args[1], heads, skip)
        fn, cell, backend, exact = entry
        if exact is not None and self._exact_now(kwargs.get("transformer_options")):
            fn, cell, backend = exact
        if fn is None:
            cell[0] += 1
            return func(*args, **kwargs)
        if backend == "sage" and kwargs.get("low_precision_attention", True) is False:
            # A model asked for full precision (ComfyUI's own sage path honours this too).
            self._count("comfy:low_precision_attention=False")
            return func(*args, **kwargs)
        try:
            out = fn(*args, **kwargs)
        except Exception as e:
            return self._fail(key, backend, e, func, args, kwargs)
        cell[0] += 1
        return out

    def _positional(self, func, args, kwargs):
        """Arguments after q, k, v, heads given by position (mask is, in some text encoders):
        named as ComfyUI's signature names them, then routed as any other call."""
        extra = len(args) - 3
        if extra < 1 or extra > len(_POSITIONAL) or any(name in kwargs for name in _POSITIONAL[:extra]):
            return self._to_comfy("{} positional arguments".format(len(args)), func, args, kwargs)
        named = dict(zip(_POSITIONAL, args[3:]))
        named.update(kwargs)
        return self(func, *args[:3], **named)

    def _to_comfy(self, why, func, args, kwargs):
        """A call no adapter can run as asked: ComfyUI's own function, counted, said once."""
        self._count("comfy:" + why)
        if why not in self._logged:
            self._logged.add(why)
            self.log.info("%sattention calls with %s go to ComfyUI's own attention function (the routed "
                          "backends cannot honour it)", PREFIX, why)
        return func(*args, **kwargs)

    def _resolve(self, key, q, k, heads, skip):
        """(function or None, counter cell, backend id, exact) for a shape; exact is the same triple
        for the first and last sampling steps where the route names an exact backend, else None."""
        if skip:
            b, _, q_len, head_dim = q.shape
            kv_len = k.shape[2]
        else:
            b, q_len, inner = q.shape
            head_dim = inner // heads
            kv_len = k.shape[1]
        backend, how, route = self.table.lookup(head_dim, q_len, kv_len, b * heads)
        kind = "default" if how == routing.DEFAULT else "route"
        fn = self.adapters.get(backend)
        if fn is not None:
            return fn, self._shape_cell(key, "{}:{}".format(kind, backend)), backend, self._exact_of(key, route)
        if how != routing.DEFAULT:
            # The shape's winner cannot run here: the decision's default, if it can.
            default = self.table.default_backend
            fn = self.adapters.get(default)
            if fn is not None:
                return fn, self._shape_cell(key, "default:{} ({} {})".format(
                    default, backend, self._why(backend))), default, None
        return None, self._shape_cell(key, "comfy:{} {}".format(backend, self._why(backend))), backend, None

    def _exact_of(self, key, route):
        exact = route.exact_backend if route is not None else None
        if not exact or self.exact_steps <= 0:
            return None
        fn = self.adapters.get(exact)
        if fn is not None:
            return fn, self._shape_cell(key, "exact:{}".format(exact)), exact
        # ComfyUI's own function on those steps: exact attention unless ComfyUI itself was started
        # with --use-sage-attention.
        return None, self._shape_cell(key, "comfy:exact {} {}".format(exact, self._why(exact))), exact

    def _exact_now(self, options):
        """Whether the model evaluation running now is one of the first or last exact_steps steps.
        Worked out at the evaluation's first routed call and kept for its other calls (the same
        sigmas object): reading the evaluation's sigma is one device-to-host copy of a number per
        evaluation (k-diffusion's samplers compare sigmas on the host every step too). Without
        sample_sigmas (a sampler outside ComfyUI's KSampler path) the steps are unknown and the
        route's own backend runs, said once."""
        sigmas = options.get("sigmas") if isinstance(options, dict) else None
        if sigmas is self._step_sigmas and sigmas is not None:
            return self._step_exact
        self._step_sigmas = sigmas
        self._step_exact = False
        schedule = options.get("sample_sigmas") if isinstance(options, dict) else None
        if sigmas is None or schedule is None:
            if "no sigmas" not in self._logged:
                self._logged.add("no sigmas")
                self.log.info("%sattention calls without transformer_options' sigmas and sample_sigmas: their "
                              "step is unknown, so 8-bit routes run on every step", PREFIX)
            return False
        if schedule is not self._schedule_of:
            self._schedule_of, self._schedule = schedule, _floats(schedule)
        self._step_exact = routing.is_exact_step(max(_floats(sigmas)), self._schedule, self.exact_steps)
        return self._step_exact

    def _why(self, backend):
        if backend not in BACKEND_IDS:
            return "unknown"
        return "unavailable"

    def _fail(self, key, backend, error, func, args, kwargs):
        self.failures[backend] += 1
        self._count("fallback:{}".format(backend))
        # This shape stays on ComfyUI's function from now on: a backend that cannot run a shape
        # would otherwise cost the failed attempt on every call (DESIGN.md, ComfyUI facts).
        self._cache[key] = (None, self._shape_cell(key, "comfy:{} failed".format(backend)), backend, None)
        if backend not in self._logged:
            self._logged.add(backend)
            self.log.warning("%s%s failed (%s: %s); this shape now uses ComfyUI's attention, "
                             "other %s shapes are still routed", PREFIX, backend,
                             type(error).__name__, error, backend)
        return func(*args, **kwargs)

    def summary(self):
        return ", ".join("{} {}".format(k, v) for k, v in sorted(self.stats.items())) or "no calls"

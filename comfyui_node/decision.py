"""The decision file `autotune` writes for this node: reading, validating, staleness.

Pure functions and plain data; no ComfyUI and no CUDA here, so the tests need neither.
"""
import json
import os

DEFAULT_PATH = "/workspace/venv/.attention_decision.json"
SCHEMA = 1

# The adapter ids the benchmark engine measures (a closed set). An id outside it in a decision
# file is not an error here: the router logs it once and leaves those shapes to ComfyUI.
# SageAttention's kernels one by one (worker/backend_registry.cpp; backends.py's
# SAGE_KERNELS holds each one's arguments, and tests/node/test_decision.py checks the two agree).
SAGE_KERNEL_IDS = (
    "sage_fp8_sm90", "sage_fp8_sm90_warp", "sage_fp8", "sage_fp8_warp", "sage_fp8_fp32acc",
    "sage_fp16_cuda", "sage_fp16_cuda_warp", "sage_fp16_triton",
)
BACKEND_IDS = (
    "sdpa_comfy", "sdpa_cudnn", "sdpa_flash", "sdpa_efficient", "sdpa_math",
    "flash2", "flash3", "sage", "xformers", "split", "quad",
) + SAGE_KERNEL_IDS

# Step-aware routing: with a balanced decision, a route to 8-bit attention names the
# exact backend the node runs on the first and last `exact_steps` sampling steps. This variable
# sets that count for both sides: autotune's decision (common/quality.h) and, over the decision's,
# the node at run time (0: 8-bit on every step).
EXACT_STEPS_ENV = "AUTOTUNE_EXACT_STEPS"
MAX_EXACT_STEPS = 1000
_ROUTE_INT_FIELDS = ("batch", "heads", "head_dim", "q_len", "kv_len")


class DecisionError(Exception):
    """The decision file is missing, unreadable or malformed; the message says which and where."""


class Route:
    """One measured shape and the backend that won it."""

    __slots__ = ("workload", "batch", "heads", "head_dim", "q_len", "kv_len", "backend", "median_ms",
                 "exact_backend")

    def __init__(self, workload, batch, heads, head_dim, q_len, kv_len, backend, median_ms=None,
                 exact_backend=None):
        self.exact_backend = exact_backend  # balanced: the backend of the first and last steps
        self.workload = workload
        self.batch = batch
        self.heads = heads
        self.head_dim = head_dim
        self.q_len = q_len
        self.kv_len = kv_len
        self.backend = backend
        self.median_ms = median_ms

    @property
    def batch_heads(self):
        return self.batch * self.heads

    def shape_text(self):
        return "{}x{}x{}, q {} kv {}".format(self.batch, self.heads, self.head_dim, self.q_len, self.kv_len)


class Decision:
    __slots__ = ("path", "tool_version", "decided_at", "mechanism", "source", "reason",
                 "gpu_name", "torch_version", "default_backend", "routes", "comfyui_sdpa",
                 "quality_level", "exact_steps")

    def __init__(self, **fields):
        for name in self.__slots__:
            setattr(self, name, fields.get(name))


def decision_path(environ=None):
    environ = os.environ if environ is None else environ
    return environ.get("COMFYUI_ATTENTION_DECISION") or DEFAULT_PATH


def load(path):
    """Reads and validates the file at `path`; raises DecisionError naming the problem."""
    try:
        with open(path, "r", encoding="utf-8") as f:
            text = f.read()
    except FileNotFoundError:
        raise DecisionError("decision file {} does not exist (has autotune run on this pod?)".format(path))
    except (OSError, UnicodeDecodeError) as e:
        raise DecisionError("decision file {} is unreadable: {}".format(path, e))
    try:
        doc = json.loads(text)
    except (ValueError, RecursionError) as e:  # RecursionError: nesting deeper than Python's stack
        raise DecisionError("decision file {} is not valid JSON: {}".format(path, e))
    return parse(doc, path)


def _need(cond, path, what):
    if not cond:
        raise DecisionError("decision file {}: {}".format(path, what))


def _is_int(x):
    return isinstance(x, int) and not isinstance(x, bool)


def parse(doc, path="<memory>"):
    _need(isinstance(doc, dict), path, "top level is {}, expected a JSON object".format(type(doc).__name__))
    _need(doc.get("schema") == SCHEMA, path,
          "schema is {!r}, expected {}".format(doc.get("schema"), SCHEMA))
    gpu = doc.get("gpu")
    _need(isinstance(gpu, dict) and isinstance(gpu.get("name"), str) and gpu["name"], path,
          "gpu.name is missing or not a string (gpu = {!r})".format(gpu))
    env = doc.get("environment")
    _need(isinstance(env, dict) and isinstance(env.get("torch"), str) and env["torch"], path,
          "environment.torch is missing or not a string (environment = {!r})".format(env))
    default = doc.get("default_backend")
    _need(isinstance(default, str) and default, path,
          "default_backend is {!r}, expected an adapter id such as sdpa_cudnn".format(default))
    raw_routes = doc.get("routes", [])
    _need(isinstance(raw_routes, list), path, "routes is {}, expected a list".format(type(raw_routes).__name__))
    routes = []
    for i, r in enumerate(raw_routes):
        _need(isinstance(r, dict), path, "routes[{}] is {!r}, expected an object".format(i, r))
        for field in _ROUTE_INT_FIELDS:
            value = r.get(field)
            _need(_is_int(value) and value > 0, path,
                  "routes[{}].{} is {!r}, expected a positive integer".format(i, field, value))
        _need(isinstance(r.get("backend"), str) and r["backend"], path,
              "routes[{}].backend is {!r}, expected an adapter id".format(i, r.get("backend")))
        median = r.get("median_ms")
        _need(median is None or (isinstance(median, (int, float)) and not isinstance(median, bool)), path,
              "routes[{}].median_ms is {!r}, expected a number".format(i, median))
        exact = r.get("exact_backend")
        _need(exact is None or (isinstance(exact, str) and exact), path,
              "routes[{}].exact_backend is {!r}, expected an adapter id".format(i, exact))
        routes.append(Route(str(r.get("workload", "route{}".format(i))), r["batch"], r["heads"], r["head_dim"],
                            r["q_len"], r["kv_len"], r["backend"], median, exact))
    level, exact_steps = _quality(doc.get("quality"), path)
    return Decision(path=path, tool_version=doc.get("tool_version"), decided_at=doc.get("decided_at"),
                    mechanism=doc.get("mechanism"), source=doc.get("source"), reason=doc.get("reason"),
                    gpu_name=gpu["name"], torch_version=env["torch"], default_backend=default,
                    routes=routes, comfyui_sdpa=_comfyui_sdpa(doc.get("comfyui_sdpa"), path),
                    quality_level=level, exact_steps=exact_steps)


def _quality(value, path):
    """(level, exact_steps) of the decision's "quality" object; (None, 0) where it has none
    (older autotune, or a decision made without measurements)."""
    if value is None:
        return None, 0
    _need(isinstance(value, dict), path, "quality is {!r}, expected an object".format(value))
    level = value.get("level") or None
    _need(level in (None, "exact", "balanced", "fast"), path,
          "quality.level is {!r}, expected one of: exact, balanced, fast".format(level))
    steps = value.get("exact_steps", 0)
    _need(_is_int(steps) and 0 <= steps <= MAX_EXACT_STEPS, path,
          "quality.exact_steps is {!r}, expected an integer in 0..{}".format(steps, MAX_EXACT_STEPS))
    return level, steps


def exact_steps(dec, environ=None):
    """(count, origin): the first and last sampling steps that run each route's exact backend.
    The environment's AUTOTUNE_EXACT_STEPS over the decision's; a bad value raises DecisionError
    naming it."""
    environ = os.environ if environ is None else environ
    raw = environ.get(EXACT_STEPS_ENV)
    if raw is None or raw == "":
        return dec.exact_steps or 0, "decision"
    try:
        n = int(raw)
    except ValueError:
        n = -1
    if not 0 <= n <= MAX_EXACT_STEPS:
        raise DecisionError("{}={!r} is not an integer in 0..{}".format(EXACT_STEPS_ENV, raw, MAX_EXACT_STEPS))
    return n, EXACT_STEPS_ENV


SDPA_KERNEL_NAMES = ("CUDNN_ATTENTION", "FLASH_ATTENTION", "EFFICIENT_ATTENTION", "MATH")


def _comfyui_sdpa(value, path):
    """The priority ComfyUI's PyTorch path runs (autotune's common/comfyui_sdpa.h), as
    (order, min_elements); None where the file has none (older autotune: cuDNN first)."""
    if value is None:
        return None
    _need(isinstance(value, dict), path, "comfyui_sdpa is {!r}, expected an object".format(value))
    order, minimum = value.get("order"), value.get("min_elements", 0)
    _need(isinstance(order, list) and all(k in SDPA_KERNEL_NAMES for k in order), path,
          "comfyui_sdpa.order is {!r}, expected a list of {}".format(order, ", ".join(SDPA_KERNEL_NAMES)))
    _need(_is_int(minimum) and minimum >= 0, path,
          "comfyui_sdpa.min_elements is {!r}, expected a count".format(minimum))
    return tuple(order), minimum


def staleness(decision, device_name, torch_version):
    """None when the decision was made for this GPU and torch, else the reason it does not apply."""
    if device_name != decision.gpu_name:
        return "decision file {} was made for GPU {!r}, this process runs on {!r}".format(
            decision.path, decision.gpu_name, device_name)
    if torch_version != decision.torch_version:
        return "decision file {} was made with torch {}, this process has torch {}".format(
            decision.path, decision.torch_version, torch_version)
    return None

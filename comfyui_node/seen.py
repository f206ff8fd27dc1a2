"""What the pod runs, for autotune, and a new decision applied without a restart.

- Recorder: the attention shapes the router saw, with their calls per model evaluation, written
  beside the decision file (seen_path) for `autotune tune --seen` to tune. The router counts
  calls in a cell per shape (router.shape_cells), so recording costs the hot path nothing; this
  module reads those cells once per model evaluation (ComfyUI's ON_PREPARE_STATE callback, a few
  microseconds per step for tens of shapes) and writes the file once per prompt.
- Reloader: at each prompt's start, one os.stat of the decision file (about 2 us; no per-call
  cost); when it changed, the new routes replace the old before the prompt's first attention
  call, so a prompt never mixes two decisions. One log line says what changed.
- install_boundaries: ComfyUI's prompt boundary is PromptExecutor.execute_async (execution.py,
  pinned a125cd84: main.py's prompt_worker runs every prompt through it); the node wraps it.
"""
import json
import math
import os
import tempfile
import time

from . import decision

SCHEMA = 1
# Shapes kept in the file. The full catalogue has 33 shapes for 8 model families; a pod running a
# few models at a few resolutions sees far fewer. Each kept shape may cost autotune a measurement
# per backend (about 1 s each, tuning.h's cap), so the bound also bounds a tune: 64 shapes of 7
# backends stay within the default 300 s budget of pod_start.sh only after bucketing, which
# merges a resolution sweep into one shape per octave. The least recently seen shapes go first.
MAX_SHAPES = 64
CALLBACK_KEY = "attention_autotune"
_MARK = "_attention_autotune_boundary"


def seen_path(decision_file):
    """The shapes file beside a decision file: `.attention_decision.json` ->
    `.attention_decision.seen.json` (and `.gpu1.json` -> `.gpu1.seen.json`). common/seen_shapes.cpp
    derives the same name."""
    root, ext = os.path.splitext(decision_file)
    return root + ".seen" + (ext or ".json")


def shape_of(key):
    """The router's cache key (q.shape, k.shape, heads, skip_reshape, dtype) as a recorded shape."""
    q_shape, k_shape, heads, skip, dtype = key
    if skip:
        batch, heads, q_len, head_dim = q_shape
        kv_len = k_shape[2]
        layout = "bhld"
    else:
        batch, q_len, inner = q_shape
        head_dim = inner // heads
        kv_len = k_shape[1]
        layout = "blhd_flat"
    return {"batch": int(batch), "heads": int(heads), "head_dim": int(head_dim), "q_len": int(q_len),
            "kv_len": int(kv_len), "layout": layout, "dtype": str(dtype).replace("torch.", "")}


def _ident(shape, family):
    return (shape["batch"], shape["heads"], shape["head_dim"], shape["q_len"], shape["kv_len"],
            shape["layout"], shape["dtype"], family)


def atomic_write(path, text):
    """Temporary file beside `path`, fsync, rename: a reader sees the old file or the new one."""
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=os.path.basename(path) + ".", suffix=".tmp", dir=folder)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


class Recorder:
    def __init__(self, router, path, clock=time.time, max_shapes=MAX_SHAPES):
        self.router = router
        self.path = path
        self.clock = clock
        self.max_shapes = max_shapes
        self.entries = None  # ident -> {"calls", "steps", "first_seen", "last_seen"}; loaded lazily
        self._marks = {}     # id(cell) -> count at the last evaluation boundary
        self._family = None  # the model of the evaluation running now; None outside sampling
        self._in_evaluation = False
        self.dirty = False

    def _load(self):
        """Earlier runs' shapes (this file survives ComfyUI restarts); a damaged file starts afresh."""
        self.entries = {}
        try:
            with open(self.path, encoding="utf-8") as f:
                doc = json.load(f)
            for e in doc["shapes"]:
                shape = {k: e[k] for k in ("batch", "heads", "head_dim", "q_len", "kv_len", "layout", "dtype")}
                self.entries[_ident(shape, e.get("family"))] = {
                    "calls": int(e["calls"]), "steps": int(e["steps"]),
                    "first_seen": float(e["first_seen"]), "last_seen": float(e["last_seen"])}
        except (OSError, ValueError, KeyError, TypeError):
            self.entries = {}

    def _close(self):
        """Counts since the last boundary belong to the evaluation that just ended (or to calls
        outside sampling, family None, no step)."""
        if self.entries is None:
            self._load()
        now = self.clock()
        for key, cells in list(self.router.shape_cells.items()):
            delta = 0
            for _, cell in cells:
                c = cell[0]
                delta += c - self._marks.get(id(cell), 0)
                self._marks[id(cell)] = c
            if delta <= 0:
                continue
            try:
                ident = _ident(shape_of(key), self._family)
            except (TypeError, ValueError, ZeroDivisionError):
                continue
            e = self.entries.get(ident)
            if e is None:
                e = self.entries[ident] = {"calls": 0, "steps": 0, "first_seen": now, "last_seen": now}
            e["calls"] += delta
            e["steps"] += 1 if self._in_evaluation else 0
            e["last_seen"] = now
            self.dirty = True

    def on_evaluation(self, family):
        """A model evaluation starts (ComfyUI's ON_PREPARE_STATE: once per step and cond batch)."""
        self._close()
        self._family = family
        self._in_evaluation = True

    def flush(self):
        """Between prompts: closes the last evaluation and writes the file if anything changed.
        Returns the path written, or None."""
        self._close()
        self._family, self._in_evaluation = None, False
        if not self.dirty:
            return None
        kept = sorted(self.entries.items(), key=lambda kv: (-kv[1]["last_seen"], -kv[1]["calls"]))
        self.entries = dict(kept[:self.max_shapes])
        shapes = []
        for ident, e in sorted(self.entries.items(), key=lambda kv: kv[1]["first_seen"]):
            b, h, d, lq, lkv, layout, dtype, family = ident
            per_step = max(1, int(math.floor(e["calls"] / e["steps"] + 0.5))) if e["steps"] else 1
            shapes.append({"batch": b, "heads": h, "head_dim": d, "q_len": lq, "kv_len": lkv, "layout": layout,
                           "dtype": dtype, "family": family, "calls_per_step": per_step, "calls": e["calls"],
                           "steps": e["steps"], "first_seen": e["first_seen"], "last_seen": e["last_seen"]})
        doc = {"schema": SCHEMA, "written_at": self.clock(), "max_shapes": self.max_shapes, "shapes": shapes}
        atomic_write(self.path, json.dumps(doc, indent=1) + "\n")
        self.dirty = False
        return self.path


def _routes_text(dec):
    # A route with an exact backend for the first and last steps reads "sage_fp8_sm90 (flash3)".
    return {(r.workload, r.shape_text()): r.backend + (" ({})".format(r.exact_backend) if r.exact_backend else "")
            for r in dec.routes}


NO_CHANGE = "no route changed"


def describe_change(old, new):
    """What a reload changed, in one line: the default and each route added, removed or moved."""
    parts = []
    if old is None or old.default_backend != new.default_backend:
        parts.append("default {} -> {}".format(old.default_backend if old else "none", new.default_backend))
    if old is not None and (old.exact_steps or 0) != (new.exact_steps or 0):
        parts.append("exact steps {} -> {}".format(old.exact_steps or 0, new.exact_steps or 0))
    before, after = (_routes_text(old) if old else {}), _routes_text(new)
    for k in after:
        if k not in before:
            parts.append("+{} [{}] -> {}".format(k[0], k[1], after[k]))
        elif before[k] != after[k]:
            parts.append("{} [{}] {} -> {}".format(k[0], k[1], before[k], after[k]))
    for k in before:
        if k not in after:
            parts.append("-{} [{}]".format(k[0], k[1]))
    return "; ".join(parts) or NO_CHANGE


class Reloader:
    """Applies a changed decision file to the router between prompts."""

    def __init__(self, router, path, current, build, device_name, torch_version, logger, prefix, stat=os.stat):
        self.router, self.path, self.current = router, path, current
        self.build, self.device_name, self.torch_version = build, device_name, torch_version
        self.log, self.prefix, self.stat = logger, prefix, stat
        self.signature = self._signature()

    def _signature(self):
        try:
            st = self.stat(self.path)
        except OSError:
            return None
        return (st.st_mtime_ns, st.st_size, st.st_ino)

    def check(self):
        """At a prompt's start. True when new routes were applied."""
        sig = self._signature()
        if sig == self.signature or sig is None:  # unchanged, or gone for a moment: keep what runs
            return False
        self.signature = sig
        try:
            dec = decision.load(self.path)
        except decision.DecisionError as e:
            self.log.warning("%s%s; keeping the routes in use", self.prefix, e)
            return False
        stale = decision.staleness(dec, self.device_name, self.torch_version)
        if stale is not None:
            self.log.warning("%s%s; keeping the routes in use", self.prefix, stale)
            return False
        change = describe_change(self.current, dec)
        if change == NO_CHANGE and self.current.comfyui_sdpa == dec.comfyui_sdpa:
            # autotune rewrites the file at every boot (a new decided_at): the same routes are
            # neither rebuilt nor logged, or a pod that tunes its seen shapes after every prompt
            # would log a reload before each.
            self.current = dec
            return False
        fresh = self.build(dec)
        self.router.apply(fresh.table, fresh.adapters, fresh.unavailable, fresh.exact_steps)
        self.log.info("%sreloaded %s (%s, decided %s) between prompts: %s", self.prefix, self.path, dec.source,
                      dec.decided_at, change)
        self.current = dec
        return True


class Boundary:
    """What happens before and after each prompt; exceptions never reach ComfyUI. `marker`
    (busy.PromptMarker, optional) tells a tune sharing the GPU that a prompt runs."""

    def __init__(self, reloader, recorder, logger, prefix, marker=None):
        self.reloader, self.recorder, self.log, self.prefix = reloader, recorder, logger, prefix
        self.marker = marker

    def before_prompt(self):
        try:
            self.reloader.check()
        except Exception as e:  # a reload must never stop a prompt: the old routes stay
            self.log.warning("%sreloading the decision failed (%s: %s); keeping the routes in use",
                             self.prefix, type(e).__name__, e)
        if self.marker is not None:
            try:
                self.marker.start()
            except Exception as e:  # without the marker a tune runs beside the prompt: slower, not wrong
                self.log.warning("%scould not write %s (%s: %s); a tune may run beside this prompt", self.prefix,
                                 self.marker.path, type(e).__name__, e)

    def after_prompt(self):
        if self.marker is not None:
            try:
                self.marker.end()
            except Exception as e:
                self.log.warning("%scould not remove %s (%s: %s)", self.prefix, self.marker.path,
                                 type(e).__name__, e)
        try:
            self.recorder.flush()
        except Exception as e:  # a full disk costs autotune these shapes, not the user the prompt
            self.log.warning("%scould not write %s (%s: %s)", self.prefix, self.recorder.path, type(e).__name__, e)

    def on_prepare_state(self, patcher, *args):
        self.recorder.on_evaluation(type(getattr(patcher, "model", None)).__name__)


def wrap_executor(executor_cls, boundary):
    """Wraps PromptExecutor.execute_async: the reload before the prompt, the record after it."""
    original = executor_cls.execute_async
    if getattr(original, _MARK, None) is not None:  # wrapped before (node loaded twice)
        original = original.__wrapped__

    async def execute_async(self, *args, **kwargs):
        boundary.before_prompt()
        try:
            return await original(self, *args, **kwargs)
        finally:
            boundary.after_prompt()

    execute_async.__wrapped__ = original
    setattr(execute_async, _MARK, boundary)
    executor_cls.execute_async = execute_async

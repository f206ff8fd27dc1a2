"""Tuning what the pod runs, on the node's side: recording the shapes it runs, and a new decision
applied between prompts (comfyui_node/seen.py), on the stand-in router; test_real_comfyui.py runs
the same against ComfyUI's own PromptExecutor and ModelPatcher."""
import asyncio
import json
import logging
import os
import tempfile
import unittest

from node_testlib import GPU, decision_doc, route, write_json

import torch

from comfyui_node import routing, seen
from comfyui_node import decision as decision_mod
from comfyui_node.router import PREFIX, Router


def tagged(tag):
    def fn(q, k, v, *args, **kwargs):
        CALLS.append(tag)
        return q
    return fn


CALLS = []
ADAPTERS = {"flash3": tagged("flash3"), "sage": tagged("sage"), "sdpa_cudnn": tagged("sdpa_cudnn")}


def comfy(*args, **kwargs):
    CALLS.append("comfy")
    return args[0]


def flat(b, l, heads, d, dtype=torch.float16):
    return torch.empty(b, l, heads * d, dtype=dtype)


def build(dec):
    return Router(routing.RouteTable(dec.routes, dec.default_backend), ADAPTERS, {})


class Clock:
    def __init__(self):
        self.t = 1000.0

    def __call__(self):
        return self.t


class Logs(logging.Handler):
    def __init__(self):
        super().__init__()
        self.lines = []

    def emit(self, record):
        self.lines.append(record.getMessage())


def logger():
    log = logging.getLogger("test_seen.{}".format(id(object())))
    log.propagate = False
    h = Logs()
    log.addHandler(h)
    log.setLevel(logging.INFO)
    return log, h


class ShapeTest(unittest.TestCase):
    def test_both_layouts(self):
        q = torch.empty(2, 77, 640, dtype=torch.bfloat16)
        k = torch.empty(2, 256, 640, dtype=torch.bfloat16)
        self.assertEqual(seen.shape_of((q.shape, k.shape, 10, False, q.dtype)),
                         {"batch": 2, "heads": 10, "head_dim": 64, "q_len": 77, "kv_len": 256,
                          "layout": "blhd_flat", "dtype": "bfloat16"})
        q4 = torch.empty(1, 24, 4352, 128)
        self.assertEqual(seen.shape_of((q4.shape, q4.shape, 24, True, q4.dtype))["layout"], "bhld")

    def test_seen_path_is_beside_the_decision(self):
        self.assertEqual(seen.seen_path("/w/venv/.attention_decision.json"), "/w/venv/.attention_decision.seen.json")
        self.assertEqual(seen.seen_path("/w/.attention_decision.gpu3.json"), "/w/.attention_decision.gpu3.seen.json")


class RecorderTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.path = os.path.join(self.tmp.name, ".attention_decision.seen.json")
        dec = decision_mod.parse(decision_doc([route("wan", 1, 12, 128, 64, 64, "sage")], default_backend="flash3"))
        self.router = build(dec)
        self.clock = Clock()

    def tearDown(self):
        self.tmp.cleanup()

    def step(self, calls):
        for (b, l, lkv, h, d), n in calls:
            for _ in range(n):
                self.router(comfy, flat(b, l, h, d), flat(b, lkv, h, d), flat(b, lkv, h, d), heads=h)

    def read(self):
        with open(self.path) as f:
            return json.load(f)

    def test_calls_per_step_and_family_are_recorded(self):
        rec = seen.Recorder(self.router, self.path, clock=self.clock)
        self.step([((1, 40, 40, 2, 16), 1)])  # outside sampling (a text encoder): no step
        for _ in range(3):
            rec.on_evaluation("WAN21")
            self.step([((1, 64, 64, 12, 128), 30), ((1, 64, 8, 12, 128), 30)])
        self.assertEqual(rec.flush(), self.path)
        shapes = {(s["q_len"], s["kv_len"], s["family"]): s for s in self.read()["shapes"]}
        self.assertEqual(shapes[(64, 64, "WAN21")]["calls_per_step"], 30)
        self.assertEqual(shapes[(64, 64, "WAN21")]["calls"], 90)
        self.assertEqual(shapes[(64, 8, "WAN21")]["steps"], 3)
        self.assertEqual(shapes[(40, 40, None)]["steps"], 0)
        self.assertEqual(shapes[(64, 64, "WAN21")]["dtype"], "float16")
        self.assertEqual(os.listdir(self.tmp.name), [os.path.basename(self.path)], "temporary file left behind")

    def test_nothing_new_writes_nothing(self):
        rec = seen.Recorder(self.router, self.path, clock=self.clock)
        self.assertIsNone(rec.flush())
        self.assertFalse(os.path.exists(self.path))

    def test_a_later_process_adds_to_the_file(self):
        rec = seen.Recorder(self.router, self.path, clock=self.clock)
        rec.on_evaluation("WAN21")
        self.step([((1, 64, 64, 12, 128), 10)])
        rec.flush()
        other = seen.Recorder(build(decision_mod.parse(decision_doc([]))), self.path, clock=self.clock)
        other.on_evaluation("WAN21")
        other.router(comfy, flat(1, 64, 12, 128), flat(1, 64, 12, 128), flat(1, 64, 12, 128), heads=12)
        other.flush()
        (s,) = self.read()["shapes"]
        self.assertEqual((s["calls"], s["steps"]), (11, 2))

    def test_the_bound_keeps_the_most_recently_seen(self):
        rec = seen.Recorder(self.router, self.path, clock=self.clock, max_shapes=2)
        for i, l in enumerate((64, 128, 256)):
            self.clock.t = 1000.0 + i
            rec.on_evaluation("Flux")
            self.step([((1, l, l, 2, 16), 1)])
            rec.flush()
        doc = self.read()
        self.assertEqual(sorted(s["q_len"] for s in doc["shapes"]), [128, 256])
        self.assertEqual(doc["max_shapes"], 2)

    def test_recording_adds_no_work_per_call(self):
        # The hot path's entry holds the shape's own cell: the count seen.py reads is the stat.
        self.step([((1, 64, 64, 12, 128), 5)])
        (key,) = self.router.shape_cells
        (entry,) = self.router._cache.values()
        self.assertIs(entry[1], self.router.shape_cells[key][0][1])
        self.assertEqual(self.router.stats["route:sage"], 5)


class ReloadTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.path = write_json(self.tmp.name, decision_doc([route("wan", 1, 12, 128, 64, 64, "sage")],
                                                            default_backend="flash3"))
        self.dec = decision_mod.load(self.path)
        self.router = build(self.dec)
        self.log, self.logs = logger()
        self.reloader = seen.Reloader(self.router, self.path, self.dec, build, GPU, torch.__version__, self.log,
                                      PREFIX)
        self.recorder = seen.Recorder(self.router, seen.seen_path(self.path), clock=Clock())
        self.boundary = seen.Boundary(self.reloader, self.recorder, self.log, PREFIX)

    def tearDown(self):
        self.tmp.cleanup()

    def rewrite(self, routes, default="flash3", **kw):
        doc = decision_doc(routes, default_backend=default, **kw)
        seen.atomic_write(self.path, json.dumps(doc))
        st = os.stat(self.path)  # same second on a coarse clock: the size or inode tells it changed
        return st

    def call(self, l=64, h=12, d=128):
        del CALLS[:]
        self.router(comfy, flat(1, l, h, d), flat(1, l, h, d), flat(1, l, h, d), heads=h)
        return CALLS[-1]

    def test_unchanged_file_is_not_reloaded(self):
        self.assertFalse(self.reloader.check())
        self.assertEqual(self.logs.lines, [])

    def test_a_rewrite_with_the_same_routes_is_neither_applied_nor_logged(self):
        self.rewrite([route("wan", 1, 12, 128, 64, 64, "sage")])  # a cache-hit boot's new decided_at
        self.assertFalse(self.reloader.check())
        self.assertEqual(self.logs.lines, [])
        self.assertEqual(self.call(), "sage")

    def test_changed_file_applies_and_logs_once_what_changed(self):
        self.assertEqual(self.call(l=300, h=40), "flash3")  # Wan 14B-like: no route, default
        self.rewrite([route("wan", 1, 12, 128, 64, 64, "sage"), route("seen-wan14b", 1, 40, 128, 300, 300, "sage")])
        self.assertTrue(self.reloader.check())
        self.assertEqual(self.call(l=300, h=40), "sage")
        self.assertFalse(self.reloader.check())
        (line,) = self.logs.lines
        self.assertIn("+seen-wan14b [1x40x128, q 300 kv 300] -> sage", line)
        self.assertNotIn("wan [", line.replace("seen-wan14b [", ""))

    def test_a_bad_or_foreign_file_keeps_the_routes(self):
        with open(self.path, "w") as f:
            f.write("{not json")
        self.assertFalse(self.reloader.check())
        self.assertEqual(self.call(), "sage")
        self.rewrite([], default="sdpa_cudnn", gpu="NVIDIA Other GPU")
        self.assertFalse(self.reloader.check())
        self.assertEqual(self.call(), "sage")
        self.assertEqual(len(self.logs.lines), 2)
        self.assertIn("not valid JSON", self.logs.lines[0])
        self.assertIn("NVIDIA Other GPU", self.logs.lines[1])

    def test_switch_happens_between_prompts_never_inside_one(self):
        test = self

        class Executor:
            async def execute_async(self, prompt, prompt_id, extra_data={}, execute_outputs=[]):
                out = [test.call()]
                if prompt_id == "first":  # the background tune lands in the middle of this prompt
                    test.rewrite([route("wan", 1, 12, 128, 64, 64, "sdpa_cudnn")])
                out.append(test.call())
                return out

        seen.wrap_executor(Executor, self.boundary)
        seen.wrap_executor(Executor, self.boundary)  # loaded twice: wrapped once
        ex = Executor()
        self.assertEqual(asyncio.run(ex.execute_async({}, "first")), ["sage", "sage"])
        self.assertEqual(asyncio.run(ex.execute_async({}, "second")), ["sdpa_cudnn", "sdpa_cudnn"])
        self.assertTrue(os.path.exists(seen.seen_path(self.path)), "the prompt's shapes were not written")

    def test_a_failing_boundary_never_stops_the_prompt(self):
        def boom(*a):
            raise OSError("disk full")
        self.recorder.flush = boom
        self.reloader.check = boom
        self.boundary.before_prompt()
        self.boundary.after_prompt()
        self.assertEqual(len(self.logs.lines), 2)


if __name__ == "__main__":
    unittest.main()

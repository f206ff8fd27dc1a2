"""The prompt marker (comfyui_node/busy.py): present while a prompt runs, gone after, whatever the
prompt does; the name and content common/prompt_marker.cpp reads."""
import asyncio
import os
import tempfile
import unittest

import node_testlib  # noqa: F401  (the import path)
from test_seen import logger

from comfyui_node import busy, seen
from comfyui_node.router import PREFIX


class Recorder:
    path = "unused"

    def flush(self):
        return None


class Reloader:
    def check(self):
        return False


class PromptMarkerTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.decision = os.path.join(self.tmp.name, ".attention_decision.json")
        self.marker = busy.PromptMarker(busy.busy_path(self.decision), clock=lambda: 1764770000.25)
        self.log, self.logs = logger()
        self.boundary = seen.Boundary(Reloader(), Recorder(), self.log, PREFIX, self.marker)

    def tearDown(self):
        self.tmp.cleanup()

    def test_path_is_the_one_autotune_reads(self):
        self.assertEqual(busy.busy_path("/w/.attention_decision.json"), "/w/.attention_decision.busy")
        self.assertEqual(busy.busy_path("/w/.attention_decision.gpu1.json"), "/w/.attention_decision.gpu1.busy")

    def test_marker_names_this_process_while_a_prompt_runs_and_is_gone_after(self):
        test, inside = self, []

        class Executor:
            async def execute_async(self, prompt, prompt_id, extra_data={}, execute_outputs=[]):
                with open(test.marker.path) as f:
                    inside.append(f.read())
                if prompt_id == "fails":
                    raise RuntimeError("out of memory")
                return "ok"

        seen.wrap_executor(Executor, self.boundary)
        self.assertFalse(os.path.exists(self.marker.path))
        self.assertEqual(asyncio.run(Executor().execute_async({}, "one")), "ok")
        self.assertEqual(inside, ["{}\n1764770000.250\n".format(os.getpid())])
        self.assertFalse(os.path.exists(self.marker.path))
        with self.assertRaises(RuntimeError):
            asyncio.run(Executor().execute_async({}, "fails"))
        self.assertEqual(len(inside), 2)
        self.assertFalse(os.path.exists(self.marker.path))  # a failed prompt does not hold a tune
        self.assertEqual(self.logs.lines, [])

    def test_an_unwritable_marker_warns_and_the_prompt_runs(self):
        blocker = os.path.join(self.tmp.name, "a-file")
        open(blocker, "w").close()
        self.marker.path = os.path.join(blocker, ".attention_decision.busy")  # its folder is a file, even for root
        self.boundary.before_prompt()
        self.boundary.after_prompt()
        self.assertEqual(len(self.logs.lines), 2, self.logs.lines)
        self.assertIn("a tune may run beside this prompt", self.logs.lines[0])
        self.assertIn("could not remove", self.logs.lines[1])

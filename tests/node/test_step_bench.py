"""scripts/node_step_bench.py's logic on the CPU: tiny shapes, library stand-ins, every output."""
import csv
import json
import os
import subprocess
import sys
import tempfile
import unittest

from node_testlib import REPO, decision_doc, route

SCRIPT = os.path.join(REPO, "scripts", "node_step_bench.py")


def read_csv(path):
    with open(path) as f:
        return list(csv.DictReader(f))


class StepBenchTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()
        cls.out = os.path.join(cls.tmp.name, "out")
        doc = decision_doc([route("flux-1024", 1, 24, 128, 4352, 4352, "flash3"),
                            route("sdxl-1024-cross-1024", 2, 20, 64, 1024, 77, "xformers")],
                           default_backend="flash2")
        cls.decision = os.path.join(cls.tmp.name, "decision.json")
        with open(cls.decision, "w") as f:
            json.dump(doc, f)
        cls.result = subprocess.run(
            [sys.executable, SCRIPT, "--decision", cls.decision, "--workloads", os.path.join(REPO, "workloads"),
             "--out", cls.out, "--models", "Flux.1 dev @1024,SDXL @1024", "--cpu", "--tiny", "--standins",
             "--repeats", "2", "--host-calls", "3"], capture_output=True, text=True, timeout=240)

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def test_runs_and_writes_every_output(self):
        self.assertEqual(self.result.returncode, 0, self.result.stderr)
        for name in ("step_gpu.csv", "host_overhead.csv", "numerics.csv", "summary.md"):
            self.assertTrue(os.path.getsize(os.path.join(self.out, name)) > 0, name)

    def test_every_variant_timed_per_model(self):
        rows = read_csv(os.path.join(self.out, "step_gpu.csv"))
        steps = {(r["model"], r["variant"]) for r in rows if r["workload"] == "(step)"}
        for model in ("Flux.1 dev @1024", "SDXL @1024"):
            for variant in ("routed", "routed_nopriority", "comfy_pytorch", "comfy_pytorch_nopriority", "flag_sage",
                            "flag_flash", "flag_xformers"):
                self.assertIn((model, variant), steps)
        sdxl_calls = [int(r["calls_per_step"]) for r in rows
                      if r["model"] == "SDXL @1024" and r["variant"] == "routed" and r["workload"] != "(step)"]
        self.assertEqual(sdxl_calls, [3, 3, 3, 3])  # --tiny caps calls_per_step at 3
        for r in rows:
            self.assertGreater(float(r["ms_per_step"]), 0.0)

    def test_routes_and_numerics(self):
        host = {r["workload"]: r for r in read_csv(os.path.join(self.out, "host_overhead.csv"))}
        self.assertEqual(host["flux-1024"]["route"], "route:flash3")
        self.assertEqual(host["sdxl-1024-cross-1024"]["route"], "route:xformers")
        self.assertEqual(host["sdxl-1024-self-4096"]["route"], "default:flash2")
        for r in host.values():  # the router alone: a dict lookup and a call, no tensor work
            self.assertGreater(float(r["router_us"]), 0.0, r)
            self.assertLess(float(r["router_us"]), 1000.0, r)
        for r in read_csv(os.path.join(self.out, "numerics.csv")):
            self.assertEqual(r["finite"], "True")
            self.assertLess(float(r["rel_l2_diff"]), 1e-5, r)

    def test_summary_states_targets(self):
        with open(os.path.join(self.out, "summary.md")) as f:
            text = f.read()
        self.assertIn("CPU, tiny shapes", text)
        self.assertIn("## Targets (issue 4)", text)
        self.assertIn("host time routing adds, worst workload", text)
        self.assertIn("Device: cpu;", text)
        self.assertIn("route:flash3", text)

    def test_bad_workload_directory_is_named(self):
        empty = tempfile.mkdtemp(dir=self.tmp.name)
        run = subprocess.run([sys.executable, SCRIPT, "--decision", self.decision, "--workloads", empty, "--out",
                              os.path.join(self.tmp.name, "o2"), "--cpu"], capture_output=True, text=True)
        self.assertNotEqual(run.returncode, 0)
        self.assertIn("no *.json workload files in " + empty, run.stderr)


if __name__ == "__main__":
    unittest.main()

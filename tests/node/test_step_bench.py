"""scripts/bench/node_step_bench.py's logic on the CPU: tiny shapes, library stand-ins, every output."""
import csv
import json
import os
import subprocess
import sys
import tempfile
import unittest

from node_testlib import REPO, decision_doc, route

SCRIPT = os.path.join(REPO, "scripts", "bench", "node_step_bench.py")


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
        self.assertIn("## Targets: routed no slower", text)
        self.assertIn("| Flux.1 dev @1024 | routed against comfy_pytorch |", text)
        self.assertIn("| SDXL @1024 | routed_nopriority against comfy_pytorch_nopriority |", text)
        self.assertRegex(text, r"SDXL @1024: routed no slower than .*: (yes|NO, slower: .+)")
        self.assertIn("host time routing adds, worst workload", text)
        self.assertIn("Device: cpu;", text)
        self.assertIn("route:flash3", text)

    def test_bad_workload_directory_is_named(self):
        empty = tempfile.mkdtemp(dir=self.tmp.name)
        run = subprocess.run([sys.executable, SCRIPT, "--decision", self.decision, "--workloads", empty, "--out",
                              os.path.join(self.tmp.name, "o2"), "--cpu"], capture_output=True, text=True)
        self.assertNotEqual(run.returncode, 0)
        self.assertIn("no *.json workload files in " + empty, run.stderr)


class PairedDifferenceTest(unittest.TestCase):
    """The step benchmark's verdicts, on synthetic rounds (no timing)."""

    @classmethod
    def setUpClass(cls):
        sys.path.insert(0, os.path.dirname(SCRIPT))
        import node_step_bench
        cls.nsb = node_step_bench

    def test_sign_interval_widths(self):
        self.assertEqual(self.nsb.sign_interval(5), (1, 1 - 2 / 32))  # min..max: 93.75%, below 95
        self.assertEqual(self.nsb.sign_interval(9), (2, 1 - 2 * 10 / 512))
        k, confidence = self.nsb.sign_interval(41)
        self.assertEqual(k, 14)
        self.assertGreaterEqual(confidence, 0.95)

    def test_noise_around_the_same_time_is_no_verdict(self):
        # Flux on the H200, routed against ComfyUI: medians 0.2% apart, rounds +-1%.
        b = [25.3, 25.1, 25.6, 25.0, 25.4, 25.2, 25.5, 25.3, 25.1]
        a = [25.4, 25.0, 25.4, 25.2, 25.2, 25.4, 25.6, 25.2, 25.3]
        d = self.nsb.paired_difference(a, b)
        self.assertLess(d[1], 0)
        self.assertGreater(d[2], 0)
        self.assertEqual(self.nsb.verdict(d), "same within noise")

    def test_slower_in_every_round_is_slower_however_small(self):
        b = [10.0, 10.5, 9.8, 10.2, 10.1, 9.9, 10.4, 10.0, 10.3]
        a = [x * 1.004 for x in b]
        d = self.nsb.paired_difference(a, b)
        self.assertAlmostEqual(d[0], 0.004)
        self.assertEqual(self.nsb.verdict(d), "slower")
        self.assertEqual(self.nsb.verdict(self.nsb.paired_difference(b, a)), "faster")

    def test_one_bad_round_does_not_decide(self):
        b = [10.0] * 9
        a = [9.9] * 8 + [14.0]  # a round the clock fell in
        self.assertEqual(self.nsb.verdict(self.nsb.paired_difference(a, b)), "faster")

    def test_rounds_must_pair(self):
        with self.assertRaisesRegex(ValueError, "3 and 2 given"):
            self.nsb.paired_difference([1, 2, 3], [1, 2])


if __name__ == "__main__":
    unittest.main()

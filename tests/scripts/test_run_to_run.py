"""scripts/bench/run_to_run.py on synthetic worker runs."""
import json
import os
import subprocess
import sys
import tempfile
import unittest

SCRIPT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "scripts", "bench", "run_to_run.py")


def run_lines(medians, failed=(), clock=None, turns=None):
    lines = [{"event": "hello", "protocol": 1}]
    for (backend, shape), ms in medians.items():
        lines.append({"event": "start", "backend": backend, "shape": shape})
        lines.append({"event": "result", "backend": backend, "shape": shape, "status": "ok", "median_ms": ms})
        if clock:
            lines[-1]["sm_clock_mhz"] = clock
        if turns:
            lines[-1]["turns"] = turns
    for backend, shape in failed:
        lines.append({"event": "result", "backend": backend, "shape": shape, "status": "failed", "median_ms": 0})
    lines.append({"event": "done"})
    return [json.dumps(l) for l in lines]


def report(medians, costs, pick):
    """`autotune --report --format json` of a tuned cache, the parts run_to_run.py reads."""
    shapes = {}
    for (backend, shape), ms in medians.items():
        shapes.setdefault(shape, []).append({"backend": backend, "shape": shape, "status": "ok", "median_ms": ms})
    return [json.dumps({"pick": pick, "shapes": [{"workload": sh, "measurements": m} for sh, m in shapes.items()],
                        "mechanism_costs": [{"mechanism": k, "step_ms": v, "eligible": True}
                                            for k, v in costs.items()]}, indent=1)]


A = {("sdpa_cudnn", "flux"): 0.400, ("sdpa_flash", "flux"): 0.750, ("sdpa_cudnn", "cross"): 0.019,
     ("sdpa_flash", "cross"): 0.028}


class RunToRunTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.addCleanup(self.tmp.cleanup)

    def cli(self, a_lines, b_lines, *extra):
        paths = []
        for name, lines in (("a", a_lines), ("b", b_lines)):
            paths.append(os.path.join(self.tmp.name, name + ".jsonl"))
            with open(paths[-1], "w") as f:
                f.write("\n".join(lines) + "\n")
        return subprocess.run([sys.executable, SCRIPT, *paths, *extra], capture_output=True, text=True)

    def test_the_tie_order_is_common_adapters_h(self):
        sys.path.insert(0, os.path.dirname(SCRIPT))
        import run_to_run
        self.assertEqual(len(run_to_run.TIE_RANKS), 19)  # every adapter of common/adapters.h
        self.assertEqual(run_to_run.rank("sdpa_cudnn"), (0, "sdpa_cudnn"))
        self.assertEqual(run_to_run.rank("sage"), (7, "sage"))
        self.assertEqual(run_to_run.rank("sage_fp8_sm90_warp"), (11, "sage_fp8_sm90_warp"))
        self.assertEqual(run_to_run.rank("t_ok"), (11, "t_ok"))

    def test_runs_that_agree_pass(self):
        b = {**A, ("sdpa_cudnn", "flux"): 0.405}  # +1.25%
        p = self.cli(run_lines(A), run_lines(b, failed=[("quad", "flux")]))
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        self.assertIn("within 2%: 4 of 4; of those >= 0.1 ms: 2 of 2; in one run only: 0", p.stdout)
        self.assertIn("sdpa_cudnn on flux: 0.4000 -> 0.4050 ms (+1.25%)", p.stdout)
        self.assertIn("changed on: no shape", p.stdout)

    def test_a_large_pair_off_by_more_fails_and_a_small_one_does_not(self):
        b = {**A, ("sdpa_flash", "cross"): 0.031}  # +10.7%, but under 0.1 ms
        self.assertEqual(self.cli(run_lines(A), run_lines(b)).returncode, 0)
        b[("sdpa_flash", "flux")] = 0.780  # +4%
        p = self.cli(run_lines(A), run_lines(b))
        self.assertEqual(p.returncode, 1)
        self.assertIn("of those >= 0.1 ms: 1 of 2", p.stdout)

    def test_the_worst_pairs_show_the_sm_clocks_when_the_runs_have_them(self):
        b = {**A, ("sdpa_cudnn", "flux"): 0.44}
        p = self.cli(run_lines(A, clock=1980), run_lines(b, clock=1500))
        self.assertIn("sdpa_cudnn on flux: 0.4000 -> 0.4400 ms (+10.00%), SM clock 1980 -> 1500 MHz", p.stdout)

    def test_the_worst_pairs_show_their_turns_when_the_runs_have_them(self):
        b = {**A, ("sdpa_cudnn", "flux"): 0.44}
        p = self.cli(run_lines(A, clock=1980, turns=1), run_lines(b, clock=1500, turns=3))
        self.assertIn("(+10.00%), SM clock 1980 -> 1500 MHz, turns 1 -> 3", p.stdout)

    def test_a_changed_winner_fails_and_is_named(self):
        b = {**A, ("sdpa_flash", "cross"): 0.0170}
        p = self.cli(run_lines(A), run_lines(b), "--tolerance", "0.5")
        self.assertEqual(p.returncode, 1)
        self.assertIn("fastest backend (within 3%, in the policy's tie order) changed on: cross", p.stdout)

    def test_a_tie_that_swaps_is_no_change(self):
        # One cuDNN kernel as ComfyUI's path and pinned: 0.2% apart, the faster swaps between runs.
        a = {**A, ("sdpa_comfy", "flux"): 0.3990}
        b = {**A, ("sdpa_comfy", "flux"): 0.4010}
        p = self.cli(run_lines(a), run_lines(b))
        self.assertEqual(p.returncode, 0, p.stdout)
        self.assertIn("changed on: no shape", p.stdout)
        # Outside the tie tolerance the swap counts.
        p = self.cli(run_lines(a), run_lines(b), "--tie", "0.001")
        self.assertEqual(p.returncode, 1)
        self.assertIn("changed on: flux", p.stdout)

    def test_one_kernel_by_two_paths_is_compared_within_each_run(self):
        a = {**A, ("sdpa_comfy", "flux"): 0.4200, ("sdpa_comfy", "cross"): 0.0190}
        p = self.cli(run_lines(a), run_lines(A))
        self.assertEqual(p.returncode, 0, p.stdout)  # information, not a failure
        self.assertIn("run a: sdpa_comfy and sdpa_cudnn within 2% on 1 of 2 shapes; worst flux: 0.4200 vs 0.4000 ms "
                      "(+5.00%)", p.stdout)
        self.assertNotIn("run b:", p.stdout)  # no sdpa_comfy there

    def test_two_reports_compare_their_pairs_step_costs_and_pick(self):
        b = {**A, ("sdpa_cudnn", "flux"): 0.405}
        costs = {"pytorch": 900.0, "quad": 4790.0}
        p = self.cli(report(A, costs, "pytorch"), report(b, {"pytorch": 909.0, "quad": 4790.0}, "pytorch"))
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        self.assertIn("within 2%: 4 of 4; of those >= 0.1 ms: 2 of 2", p.stdout)
        self.assertIn("per sampling step, pytorch: 900.000 -> 909.000 ms (+1.00%)", p.stdout)
        self.assertIn("pick: pytorch -> pytorch (the same)", p.stdout)
        # Another pick fails, even with every pair within the tolerance.
        p = self.cli(report(A, costs, "pytorch"), report(A, costs, "quad"))
        self.assertEqual(p.returncode, 1, p.stdout)
        self.assertIn("pick: pytorch -> quad (changed)", p.stdout)

    def test_a_report_against_a_worker_run_compares_the_pairs(self):
        p = self.cli(report(A, {"pytorch": 900.0}, "pytorch"), run_lines(A))
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        self.assertIn("within 2%: 4 of 4", p.stdout)
        self.assertNotIn("pick:", p.stdout)

    def test_runs_with_nothing_in_common_fail(self):
        p = self.cli(run_lines({}), run_lines(A))
        self.assertEqual(p.returncode, 1)
        self.assertIn("nothing to compare", p.stdout)

    def test_unreadable_input_is_named(self):
        p = self.cli(run_lines(A), ["{not json"])
        self.assertEqual(p.returncode, 2)
        self.assertIn("cannot read", p.stderr)
        self.assertIn("b.jsonl", p.stderr)


if __name__ == "__main__":
    unittest.main()

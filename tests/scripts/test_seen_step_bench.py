#!/usr/bin/env python3
"""scripts/bench/seen_step_bench.py against the real ComfyUI source, on the CPU.

Runs the script with --cpu --tiny on Wan (ComfyUI's WanModel, tiny) with a decision that routes
nothing, and a stand-in tune command that routes what the node recorded: the step before the tune
goes to the decision's default, the node records both attention shapes, the next prompt reloads
the rewritten decision, and the step after routes the self-attention. ComfyUI and einops come
from ../shared/comfyui as in test_model_step_bench.py (skipped, exit 77, where missing).
Faked: safetensors (Debian 12 has no package; comfy.model_patcher imports it, nothing here loads
a file). Run with Debian's /usr/bin/python3 (it has torch).
"""
import json
import os
import subprocess
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
SCRIPT = os.path.join(REPO, "scripts", "bench", "seen_step_bench.py")
sys.path.insert(0, HERE)
from test_model_step_bench import SKIP, find_tarballs, skip_reason, unpack  # noqa: E402

TMP = COMFYUI = EINOPS = None

# Routes every recorded self-attention shape (q_len == kv_len) to quad, as `autotune tune --seen`
# would route it to what it measured fastest.
FAKE_TUNE = '''
import json, os, sys
seen, decision = sys.argv[1], sys.argv[2]
dec = json.load(open(decision))
dec["routes"] = [{"workload": "seen", "batch": s["batch"], "heads": s["heads"], "head_dim": s["head_dim"],
                  "q_len": s["q_len"], "kv_len": s["kv_len"], "backend": "quad"}
                 for s in json.load(open(seen))["shapes"] if s["q_len"] == s["kv_len"]]
dec["source"] = "tuning"
with open(decision + ".tmp", "w") as f:
    json.dump(dec, f)
os.replace(decision + ".tmp", decision)
'''

# Beside the steps: polls the node's prompt marker for 2 s, as a tune's worker does between turns,
# and writes how often it saw it.
WATCH = '''
import os, sys, time
marker, out = sys.argv[1], sys.argv[2]
seen, end = 0, time.time() + 2.0
while time.time() < end:
    seen += os.path.exists(marker)
    time.sleep(0.005)
with open(out, "w") as f:
    f.write(str(seen))
'''


class SeenStepBench(unittest.TestCase):
    def test_recorded_shapes_are_tuned_and_routed_after_the_reload(self):
        import torch
        work = os.path.join(TMP, "run")
        os.makedirs(work)
        decision = os.path.join(work, "decision.json")
        with open(decision, "w") as f:
            json.dump({"schema": 1, "gpu": {"name": "cpu"}, "environment": {"torch": torch.__version__},
                       "default_backend": "split", "source": "table", "mechanism": "test", "comfyui_args": [],
                       "routes": []}, f)
        tune = os.path.join(work, "fake_tune.py")
        with open(tune, "w") as f:
            f.write(FAKE_TUNE)
        seen = os.path.join(work, "decision.seen.json")
        watch, marker, watched = (os.path.join(work, n) for n in ("watch.py", "beside.busy", "watched.txt"))
        with open(watch, "w") as f:
            f.write(WATCH)
        out = os.path.join(work, "out")
        env = dict(os.environ, PYTHONPATH=os.pathsep.join([EINOPS, os.path.join(TMP, "fakes")]))
        cmd = [sys.executable, SCRIPT, "--comfyui", COMFYUI, "--decision", decision, "--model", "wan13b720",
               "--tune", "{} {} {} {}".format(sys.executable, tune, seen, decision), "--beside", "{} {} {} {}".format(sys.executable, watch, marker, watched),
               "--beside-marker", marker, "--beside-gap-s", "0.05",
               "--cpu", "--tiny", "--device-name", "cpu", "--repeats", "2", "--out", out]
        r = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=600)
        self.assertEqual(r.returncode, 0, r.stdout[-3000:] + r.stderr[-3000:])
        with open(os.path.join(out, "seen_step.json")) as f:
            res = json.load(f)
        # Tiny Wan: self-attention 2 x 2 heads x 32, 48 tokens; cross-attention to 8 text tokens;
        # 2 layers, so 2 calls of each per step.
        shapes = {(s["batch"], s["heads"], s["head_dim"], s["q_len"], s["kv_len"]): s["calls_per_step"]
                  for s in res["shapes_recorded"]["shapes"]}
        self.assertEqual(shapes, {(2, 2, 32, 48, 48): 2, (2, 2, 32, 48, 8): 2})
        self.assertEqual(res["before_counters"], {"default:split": 4})
        self.assertEqual(res["tune"]["rc"], 0)
        self.assertEqual(len(res["reload_lines"]), 1, res["node_log"])
        self.assertIn("+seen [2x2x32, q 48 kv 48] -> quad", res["reload_lines"][0])
        self.assertEqual(res["after_counters"], {"default:split": 2, "route:quad": 2})
        self.assertLess(res["after_rel_diff"], 1e-4)
        for phase in ("before", "after"):
            for config in ("default", "node"):
                self.assertEqual(len(res[phase]["times_s"][config]), 2, (phase, config))
        self.assertEqual(res["beside"]["rc"], 0)
        self.assertGreater(len(res["beside"]["during_s"]), 0)
        # Each step beside the tune was a prompt with the node's marker, and none is left behind.
        with open(watched) as f:
            self.assertGreater(int(f.read()), 0)
        self.assertFalse(os.path.exists(marker))
        self.assertEqual(res["beside"]["marker"], marker)
        with open(os.path.join(out, "seen_step.md")) as f:
            md = f.read()
        self.assertIn("| after tune and reload |", md)
        self.assertIn("Acceptance: after the reload", md)


def main():
    global TMP, COMFYUI, EINOPS
    found = find_tarballs()
    why = skip_reason(found)
    if why:
        print("SKIP: " + why)
        return SKIP
    with tempfile.TemporaryDirectory(prefix="seen_step_bench_") as tmp:
        TMP = tmp
        COMFYUI, EINOPS = unpack(found, tmp)
        fake = os.path.join(tmp, "fakes", "safetensors")
        os.makedirs(fake)
        with open(os.path.join(fake, "__init__.py"), "w") as f:
            f.write('"""Faked: Debian 12 has no safetensors package; nothing in this test loads a file."""\n')
        with open(os.path.join(fake, "torch.py"), "w") as f:
            f.write("def load_file(*args, **kwargs):\n    raise ImportError('safetensors is faked in this test')\n\n\n"
                    "save_file = load_file\n")
        result = unittest.main(argv=[sys.argv[0], "-v"] + sys.argv[1:], exit=False).result
        return 0 if result.wasSuccessful() else 1


if __name__ == "__main__":
    sys.exit(main())

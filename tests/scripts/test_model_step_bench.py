#!/usr/bin/env python3
"""scripts/bench/model_step_bench.py against the real ComfyUI source, on the CPU.

Runs the script with --cpu --tiny (ComfyUI's own model classes, tiny sizes) on all four models
with decision files written here, and --shapes at full size; checks its pure parts with
synthetic numbers. The ComfyUI and einops tarballs come from ../shared/comfyui (relative to the
repository root; for a git worktree, also beside the main checkout), or from the folder named by
COMFYUI_SHARED_DIR; where none holds them the test exits 77 (ctest: skipped) saying so.
Library stand-ins (tests/node/standins) play sageattention and flash_attn_interface, so that the
sage_flag configuration and routes to flash3 and sage run on the CPU. Nothing is faked for
ComfyUI: the model classes import none of the modules Debian 12 lacks (safetensors, torchsde,
transformers, tokenizers). Run with Debian's /usr/bin/python3 (it has torch).
"""
import csv
import glob
import importlib.util
import json
import math
import os
import subprocess
import sys
import tarfile
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
SCRIPT = os.path.join(REPO, "scripts", "bench", "model_step_bench.py")
STANDINS = os.path.join(REPO, "tests", "node", "standins")
SKIP = 77


def shared_candidates():
    env = os.environ.get("COMFYUI_SHARED_DIR")
    if env:
        return [env]
    out = [os.path.join(REPO, "..", "shared", "comfyui")]
    try:  # a worktree's ../shared is not the main checkout's
        common = subprocess.run(["git", "-C", REPO, "rev-parse", "--path-format=absolute", "--git-common-dir"],
                                capture_output=True, text=True, timeout=10).stdout.strip()
        if common:
            out.append(os.path.join(os.path.dirname(common), "..", "shared", "comfyui"))
    except (OSError, subprocess.SubprocessError):
        pass
    return out


def find_tarballs():
    for d in shared_candidates():
        comfy = sorted(glob.glob(os.path.join(d, "ComfyUI-*.tar.gz")))
        einops = sorted(glob.glob(os.path.join(d, "einops-*.tar.gz")))
        if comfy and einops:
            return comfy[-1], einops[-1]
    return None


def load_script():
    spec = importlib.util.spec_from_file_location("model_step_bench", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


msb = load_script()
TMP = None        # set up once in main(): the tarballs and where they were unpacked
TARBALLS = None
COMFYUI = None
EINOPS = None


def decision(default, routes, args, source):
    return {"schema": 1, "gpu": {"name": "cpu"}, "environment": {"torch": "cpu"}, "default_backend": default,
            "source": source, "mechanism": "test", "comfyui_args": args,
            "routes": [dict(zip(("workload", "batch", "heads", "head_dim", "q_len", "kv_len", "backend"), r))
                       for r in routes]}


def run_script(out, *extra, standins=True):
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([EINOPS] + ([STANDINS] if standins else []))
    commit = os.path.basename(TARBALLS[0])[len("ComfyUI-"):-len(".tar.gz")]
    cmd = [sys.executable, SCRIPT, "--comfyui", COMFYUI, "--comfyui-commit", commit, "--out", out] + list(extra)
    r = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=900)
    if r.returncode != 0:
        raise AssertionError("{} exited {}:\n{}\n{}".format(" ".join(cmd), r.returncode, r.stdout[-4000:],
                                                           r.stderr[-4000:]))
    return r


def read_csv(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


class PureParts(unittest.TestCase):
    def test_flag_choice_follows_comfyui_chain(self):
        c = msb.flag_choice
        # torch 2 CUDA, no xformers: --use-pytorch-cross-attention is the default already
        self.assertEqual(c(["--use-pytorch-cross-attention", "--disable-xformers"], False, True), "pytorch")
        self.assertEqual(c([], False, True), "pytorch")
        self.assertEqual(c(["--use-sage-attention"], True, True), "sage")
        # xformers, when it imports, wins over --use-flash-attention unless disabled
        self.assertEqual(c(["--use-flash-attention"], True, True), "xformers")
        self.assertEqual(c(["--use-flash-attention", "--disable-xformers"], True, True), "flash")
        self.assertEqual(c(["--use-pytorch-cross-attention"], True, True), "pytorch")
        self.assertEqual(c(["--use-split-cross-attention"], False, True), "split")
        self.assertEqual(c(["--use-quad-cross-attention"], False, True), "sub_quad")
        self.assertEqual(c([], False, False), "sub_quad")  # torch 1.13 / CPU: ComfyUI's default

    def test_machine_line_on_a_gpu_and_on_the_cpu(self):
        # On the H200 the report's line once named `cuda` twice and the script ended without its
        # report (2026-12-03): a GPU's info has every field.
        gpu = {"gpu": "NVIDIA H200", "capability": "9.0", "driver": "580.159.04", "torch": "2.11.0+cu130",
               "cuda": "13.0", "cudnn": "91200", "python": "3.12.3", "memory_gib": 139.8}
        self.assertEqual(msb.machine_line(gpu), "Machine: GPU NVIDIA H200 (sm 9.0); driver 580.159.04; torch "
                                                "2.11.0+cu130, CUDA 13.0, cuDNN 91200; Python 3.12.3.")
        cpu = {"gpu": "none (CPU run)", "driver": "-", "torch": "1.13.0", "python": "3.11.2"}
        self.assertEqual(msb.machine_line(cpu), "Machine: GPU none (CPU run); driver -; torch 1.13.0; Python 3.11.2.")

    def test_rotation(self):
        names = ["a", "b", "c"]
        self.assertEqual([msb.rotation(names, r)[0] for r in range(4)], ["a", "b", "c", "a"])
        self.assertEqual(sorted(msb.rotation(names, 2)), names)

    def test_summarize_rounds(self):
        s = msb.summarize_rounds({"default": [1.0, 1.2, 1.1], "autotune": [0.5, 0.6, 0.55]})
        self.assertAlmostEqual(s["default"]["speedup"], 1.0)
        self.assertAlmostEqual(s["autotune"]["median_s"], 0.55)
        self.assertAlmostEqual(s["autotune"]["speedup"], 2.0)
        self.assertAlmostEqual(s["autotune"]["paired_speedup"], 2.0)


class RealComfyUI(unittest.TestCase):
    def test_full_size_shapes(self):
        """The full-size configurations give the shapes DESIGN.md lists (meta device, no memory)."""
        out = os.path.join(TMP, "shapes")
        run_script(out, "--shapes")
        rows = read_csv(os.path.join(out, "attention_shapes.csv"))
        got = {(r["model"], int(r["batch"]), int(r["heads"]), int(r["head_dim"]), int(r["q_len"]), int(r["kv_len"])):
               int(r["calls_per_step"]) for r in rows}
        self.assertEqual(got, {
            ("wan13b", 2, 12, 128, 32760, 32760): 30, ("wan13b", 2, 12, 128, 32760, 512): 30,
            ("flux", 1, 24, 128, 4352, 4352): 57,
            ("sdxl", 2, 10, 64, 4096, 4096): 10, ("sdxl", 2, 10, 64, 4096, 77): 10,
            ("sdxl", 2, 20, 64, 1024, 1024): 60, ("sdxl", 2, 20, 64, 1024, 77): 60,
            ("sd35l", 2, 38, 64, 4250, 4250): 38})
        params = {r["model"]: float(r["params_b"]) for r in rows}
        for model, billions in {"wan13b": 1.42, "flux": 11.9, "sdxl": 2.57, "sd35l": 8.06}.items():
            self.assertAlmostEqual(params[model], billions, delta=0.01, msg=model)

    def test_tiny_step_every_model_and_configuration(self):
        auto = os.path.join(TMP, "autotune.json")
        table = os.path.join(TMP, "table.json")
        # Tiny shapes (attention_shapes.csv of a --tiny run): Flux self 1x2x32 q 20; SDXL 2x4x16 q 64;
        # Wan self 2x2x32 q 48; SD3 joint 2x2x64 q 70. Unrouted calls go to ComfyUI's sage (the flags).
        with open(auto, "w") as f:
            json.dump(decision("split", [("flux", 1, 2, 32, 20, 20, "flash3"), ("sdxl", 2, 4, 16, 64, 64, "quad"),
                                         ("wan", 2, 2, 32, 48, 48, "sage"), ("sd3", 2, 2, 64, 70, 70, "flash3")],
                               ["--use-sage-attention"], "tuning"), f)
        with open(table, "w") as f:
            json.dump(decision("quad", [], ["--use-split-cross-attention"], "table"), f)
        out = os.path.join(TMP, "tiny")
        r = run_script(out, "--cpu", "--tiny", "--repeats", "2", "--decision", auto, "--table-decision", table)
        rows = read_csv(os.path.join(out, "model_step.csv"))
        by = {(row["model"], row["config"]): row for row in rows}
        self.assertEqual(sorted(by), sorted((m, c) for m in msb.MODELS for c in msb.CONFIGS))
        for (model, config), row in by.items():
            self.assertEqual(row["finite"], "True", (model, config))
            self.assertTrue(math.isfinite(float(row["rel_diff"])), (model, config))
            self.assertLess(float(row["rel_diff"]), 1e-3, (model, config))
            self.assertGreater(float(row["s_per_step"]), 0.0, (model, config))
            self.assertEqual(len(row["samples_s"].split()), 2, (model, config))
            self.assertTrue(math.isfinite(float(row["speedup"])), (model, config))
        self.assertEqual(float(by["flux", "default"]["rel_diff"]), 0.0)
        # Heads passed positionally (Flux, SDXL): every call routed, as the counters show.
        self.assertEqual(by["flux", "autotune"]["router_counters"], "route:flash3 3")
        self.assertEqual(by["flux", "static_table"]["router_counters"], "default:quad 3")
        self.assertEqual(by["sdxl", "autotune"]["router_counters"], "default:split 17; route:quad 5")
        self.assertEqual(by["sdxl", "static_table"]["router_counters"], "default:quad 22")
        # heads= as a keyword (Wan, SD3): routed once the router handles the keyword;
        # before that the router passes them on uncounted, to the flags' function.
        for model, route in (("wan13b", "route:sage 2"), ("sd35l", "route:flash3 2")):
            counted = by[model, "autotune"]["router_counters"]
            if counted:
                self.assertIn(route, counted, model)
            sys.stderr.write("{}: autotune router counters: {}\n".format(model, counted or "none (heads= keyword)"))
        with open(os.path.join(out, "model_step.md")) as f:
            md = f.read()
        for needle in ("GPU none (CPU run)", "ComfyUI a125cd84", "flags --use-sage-attention: ComfyUI runs its 'sage'",
                       "flags --use-split-cross-attention: ComfyUI runs its 'split'", "| sd35l | autotune |",
                       "Attention calls per step", "Tiny models on the CPU"):
            self.assertIn(needle, md)
        self.assertIn("[model_step_bench] flux autotune", r.stdout)

    def test_without_sage_the_flag_is_skipped_visibly(self):
        out = os.path.join(TMP, "nosage")
        r = run_script(out, "--cpu", "--tiny", "--repeats", "1", "--models", "flux", standins=False)
        rows = read_csv(os.path.join(out, "model_step.csv"))
        self.assertEqual([row["config"] for row in rows], ["default"])
        self.assertIn("sage_flag skipped: sageattention does not import here", r.stdout)
        self.assertIn("autotune skipped: no --decision given", r.stdout)


def skip_reason(found):
    """Why the tests that run ComfyUI's model classes cannot run here (found: find_tarballs()), or
    None."""
    if found is None:
        return ("no ComfyUI-*.tar.gz and einops-*.tar.gz in {} (set COMFYUI_SHARED_DIR to the folder "
                "holding them)".format(" or ".join(os.path.abspath(d) for d in shared_candidates())))
    if importlib.util.find_spec("torch") is None:
        return "{} has no torch (run with Debian's /usr/bin/python3)".format(sys.executable)
    return None


def unpack(found, into):
    """Unpacks the tarballs find_tarballs() found into `into`; returns (ComfyUI dir, einops dir)."""
    for tarball in found:
        with tarfile.open(tarball) as t:
            t.extractall(into)
    return os.path.join(into, "ComfyUI"), glob.glob(os.path.join(into, "einops-*"))[0]


def main():
    global TMP, TARBALLS, COMFYUI, EINOPS
    found = TARBALLS = find_tarballs()
    why = skip_reason(found)
    if why:
        print("SKIP: " + why)
        return SKIP
    with tempfile.TemporaryDirectory(prefix="model_step_bench_") as tmp:
        TMP = tmp
        COMFYUI, EINOPS = unpack(found, tmp)
        print("ComfyUI from {}, einops from {}".format(*found), flush=True)
        result = unittest.main(argv=[sys.argv[0], "-v"] + sys.argv[1:], exit=False).result
        return 0 if result.wasSuccessful() else 1


if __name__ == "__main__":
    sys.exit(main())

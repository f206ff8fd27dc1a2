"""The node in the real ComfyUI: the pinned source in ../shared/comfyui (or $COMFYUI_SOURCE_DIR),
unpacked into a temporary folder. ComfyUI loads the node with nodes.load_custom_node, installed
the three ways users install it; real model classes (Flux, SDXL/SD1.5 CrossAttention, Wan 2.1,
SD3 MMDiT) run with the router and without it, and each family's attention must be routed
(counted by the router, seen by the library stand-in) with ComfyUI's own output.

On the CPU with Debian's torch 1.13 the SDPA adapters cannot exist (torch < 2.0), so the decision
here routes to the library stand-ins (tests/node/standins) and to ComfyUI's own split attention,
and ComfyUI's default is its sub-quadratic attention (its PyTorch path needs torch 2).
ComfyUI runs in a child process (real_comfyui_child.py): its `comfy` package must not meet the
stand-in one that the other node tests import.
"""
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import unittest

from node_testlib import GPU, HERE, REPO, decision_doc, route, write_json

SOURCE = os.environ.get("COMFYUI_SOURCE_DIR") or os.path.join(os.path.dirname(REPO), "shared", "comfyui")
# Debian packages the real ComfyUI's import of `nodes` needs (import name: Debian package).
DEBIAN_MODULES = {"av": "python3-av", "psutil": "python3-psutil", "scipy": "python3-scipy", "tqdm": "python3-tqdm",
                  "yaml": "python3-yaml", "torchvision": "python3-torchvision", "PIL": "python3-pil",
                  "aiohttp": "python3-aiohttp", "packaging": "python3-packaging", "numpy": "python3-numpy"}

# Tiny shapes of the child's models (batch, heads, head_dim, q_len, kv_len) and where they go.
ROUTES = [
    route("flux", 1, 2, 32, 22, 22, "flash3"),
    route("sdxl-self", 2, 2, 40, 16, 16, "flash2"),
    route("sdxl-cross", 2, 2, 40, 16, 7, "split"),
    dict(route("wan-self", 1, 2, 16, 32, 32, "sage"), exact_backend="flash3"),  # balanced: flash3 first and last
    route("wan-cross", 1, 2, 16, 32, 8, "xformers"),
    route("sd3-joint", 1, 2, 64, 21, 21, "flash3"),
]
EXPECTED = {  # model -> (router counters, library stand-in calls)
    "flux": ({"route:flash3": 2}, {"flash3": 2}),  # one double-stream and one single-stream block
    "sdxl-self": ({"route:flash2": 1}, {"flash2": 1}),
    "sdxl-cross": ({"route:split": 1}, {}),  # ComfyUI's own split attention, through the registry
    "sdxl-self-masked": ({"comfy:mask": 1}, {}),  # masked calls stay on ComfyUI's function
    "wan": ({"route:sage": 1, "route:xformers": 1}, {"sage": 1, "xformers": 1}),  # heads= keyword
    "sd3": ({"route:flash3": 2}, {"flash3": 2}),  # joint attention, heads= keyword, 4-D v
}


def _find(folder, prefix):
    names = sorted(n for n in os.listdir(folder) if n.startswith(prefix) and n.endswith(".tar.gz"))
    return os.path.join(folder, names[-1]) if names else None


def _missing_debian_packages():
    missing = []
    for module, package in DEBIAN_MODULES.items():
        probe = subprocess.run([sys.executable, "-c", "import " + module], capture_output=True)
        if probe.returncode != 0:
            missing.append(package)
    return missing


def manager_install(repo, custom_nodes, name):
    """What ComfyUI-Manager does for "Install via Git URL": clone the repository into
    custom_nodes/<name>, then `pip install -r requirements.txt` if there is one and
    `python install.py` in the node's folder if there is one. The clone is of the working tree
    (the files git tracks or would track), so uncommitted changes are tested too."""
    target = os.path.join(custom_nodes, name)
    listed = subprocess.run(["git", "-C", repo, "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
                            capture_output=True, check=True).stdout.decode().split("\0")
    for rel in filter(None, listed):
        src = os.path.join(repo, rel)
        if os.path.isfile(src):
            os.makedirs(os.path.dirname(os.path.join(target, rel)), exist_ok=True)
            shutil.copy2(src, os.path.join(target, rel))
    steps = []
    if os.path.exists(os.path.join(target, "requirements.txt")):
        steps.append("requirements.txt")  # the test fails on it: the node must need no pip install
    if os.path.exists(os.path.join(target, "install.py")):
        run = subprocess.run([sys.executable, "install.py"], cwd=target, capture_output=True, text=True)
        steps.append(("install.py", run.returncode, run.stdout + run.stderr))
    return target, steps


class RealComfyUITest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        if not os.path.isdir(SOURCE):
            raise unittest.SkipTest("no real ComfyUI source at {} (set COMFYUI_SOURCE_DIR)".format(SOURCE))
        comfy_tar, einops_tar = _find(SOURCE, "ComfyUI-"), _find(SOURCE, "einops-")
        if comfy_tar is None or einops_tar is None:
            raise unittest.SkipTest("{} lacks ComfyUI-*.tar.gz or einops-*.tar.gz".format(SOURCE))
        missing = _missing_debian_packages()
        if missing:
            raise unittest.SkipTest("ComfyUI's imports need Debian packages not installed here: " + " ".join(missing))
        cls.tmp = tempfile.TemporaryDirectory()
        for tar in (comfy_tar, einops_tar):
            with tarfile.open(tar) as t:
                t.extractall(cls.tmp.name)
        comfyui = os.path.join(cls.tmp.name, "ComfyUI")
        einops = os.path.join(cls.tmp.name, os.path.basename(einops_tar)[:-len(".tar.gz")])
        custom_nodes = os.path.join(comfyui, "custom_nodes")
        os.makedirs(custom_nodes, exist_ok=True)
        node = os.path.join(REPO, "comfyui_node")
        # The three ways users install a node: a copy of the node folder (and Manager's
        # install.py step run in it), a clone of the repository by ComfyUI-Manager, and a link.
        copy = os.path.join(custom_nodes, "attention-autotune-copy")
        shutil.copytree(node, copy, ignore=shutil.ignore_patterns("__pycache__"))
        cls.copy_install = subprocess.run([sys.executable, "install.py"], cwd=copy, capture_output=True, text=True)
        clone, cls.manager_steps = manager_install(REPO, custom_nodes, "comfyui-attention-autotune")
        link = os.path.join(custom_nodes, "attention-autotune-link")
        os.symlink(node, link)
        cls.node_dirs = [copy, clone, link]
        doc = decision_doc(ROUTES, default_backend="quad", gpu=GPU)
        doc["quality"] = {"level": "balanced", "exact_steps": 1, "steps": 30}
        decision = write_json(cls.tmp.name, doc)
        env = dict(os.environ, COMFYUI_ATTENTION_DECISION=decision, COMFYUI_ATTENTION_AUTOTUNE="1")
        cls.run_result = subprocess.run(
            [sys.executable, os.path.join(HERE, "real_comfyui_child.py"), comfyui, einops,
             os.path.join(HERE, "standins")] + cls.node_dirs,
            capture_output=True, text=True, env=env, timeout=280)
        lines = cls.run_result.stdout.strip().splitlines()
        try:
            cls.result = json.loads(lines[-1])
        except (IndexError, ValueError):
            cls.result = None

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def setUp(self):
        self.assertIsNotNone(self.result, "child failed (status {}):\n{}\n{}".format(
            self.run_result.returncode, self.run_result.stdout[-3000:], self.run_result.stderr[-6000:]))

    def test_comfyui_is_the_real_one_with_only_the_missing_modules_faked(self):
        self.assertEqual(self.result["faked"], ["safetensors", "torchsde", "transformers", "tokenizers"])
        self.assertEqual(self.result["comfy_default"], "attention_sub_quad")

    def test_every_install_way_loads_and_installs_the_router(self):
        self.assertEqual(len(self.result["nodes"]), 3)
        for entry in self.result["nodes"]:
            with self.subTest(node=os.path.basename(entry["dir"])):
                self.assertTrue(entry["loaded"], entry)
                self.assertTrue(entry["router"], entry)
                self.assertTrue(entry["mappings"], "NODE_CLASS_MAPPINGS should be {} (a node with no graph nodes)")
        applied = [line for line in self.result["log"] if line.startswith("[attention-autotune] applied")]
        self.assertEqual(len(applied), 3, self.result["log"])
        self.assertIn("sd3-joint [1x2x64, q 21 kv 21] -> flash3", applied[-1])

    def test_managers_install_steps_succeed(self):
        self.assertEqual(self.copy_install.returncode, 0, self.copy_install.stdout + self.copy_install.stderr)
        self.assertIn("nothing to install", self.copy_install.stdout)
        self.assertNotIn("requirements.txt", self.manager_steps)
        for step in self.manager_steps:
            self.assertEqual(step[1], 0, step)

    def test_real_model_patcher_and_its_clones_carry_the_router(self):
        self.assertTrue(self.result["patcher_has_router"])
        self.assertTrue(self.result["clone_has_router"])

    def test_each_model_familys_attention_is_routed_with_comfyuis_output(self):
        models = self.result["models"]
        self.assertEqual(set(models), set(EXPECTED))
        for name, (stats, calls) in EXPECTED.items():
            with self.subTest(model=name):
                got = models[name]
                self.assertEqual(got["stats"], stats, got)
                self.assertEqual(got["library_calls"], calls, got)
                self.assertEqual(got["stats_without_router"], {}, "ComfyUI's own run reached the router")
                self.assertTrue(got["finite"], got)
                self.assertGreater(got["max_abs"], 0.0)
                self.assertLess(got["max_abs_diff"], 1e-4 * max(1.0, got["max_abs"]), got)

    def test_a_new_decision_applies_between_prompts_of_the_real_executor(self):
        p = self.result["prompts"]
        self.assertTrue(p["wrapped"])
        self.assertTrue(p["success"], p)
        first, second = p["stats"]
        # The file changed after the first prompt's first step: its second step kept sage.
        self.assertEqual(first, {"route:sage": 2, "route:xformers": 2}, p)
        self.assertEqual(second, {"route:flash2": 2, "route:xformers": 2}, p)
        self.assertTrue(any("reloaded" in line and "wan-self [1x2x16, q 32 kv 32] sage (flash3) -> flash2" in line
                            for line in self.result["log"]), self.result["log"])

    def test_comfyuis_samplers_run_exact_attention_on_the_first_and_last_steps(self):
        """Balanced: sage in between, flash3 where the evaluation's sigma is the
        schedule's first or last; Heun's second evaluation of a step, at the next sigma, counts
        by that sigma."""
        s = self.result["sampling"]
        self.assertEqual(len(s["sigmas"]), 6, s)
        euler = [names for names in s["euler"]["ran"]]
        self.assertEqual(euler, [["exact:flash3"]] + [["route:sage"]] * 3 + [["exact:flash3"]], s)
        heun = s["heun"]["ran"]
        self.assertEqual(heun, [["exact:flash3"]] + [["route:sage"]] * 6 + [["exact:flash3"]] * 2, s)
        self.assertTrue(s["euler"]["finite"] and s["heun"]["finite"], s)

    def test_the_shapes_run_are_recorded_with_calls_per_step_and_family(self):
        shapes = {(s["q_len"], s["kv_len"], s["family"]): s for s in self.result["prompts"]["seen"]["shapes"]}
        wan_self = shapes[(32, 32, "WanModel")]
        self.assertEqual((wan_self["batch"], wan_self["heads"], wan_self["head_dim"], wan_self["layout"]),
                         (1, 2, 16, "blhd_flat"))
        self.assertEqual((wan_self["calls_per_step"], wan_self["steps"]), (1, 4))
        self.assertIn((32, 8, "WanModel"), shapes)


if __name__ == "__main__":
    unittest.main()

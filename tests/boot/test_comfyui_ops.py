"""autotune reads what the real ComfyUI's PyTorch attention path runs from its comfy/ops.py.

Usage: test_comfyui_ops.py AUTOTUNE. Reads the pinned ComfyUI (a125cd84) from ../shared/comfyui
(COMFYUI_SHARED_DIR overrides); exits 77 (ctest: skipped) saying so where it is missing.
"""
import json
import os
import subprocess
import sys
import tarfile
import tempfile
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "scripts"))
from test_model_step_bench import find_tarballs  # noqa: E402

AUTOTUNE = None


class ComfyuiOps(unittest.TestCase):
    def detect(self, *args):
        p = subprocess.run([AUTOTUNE, "--venv", "/nonexistent", "--simulate-gpu", "name=NVIDIA H200;cc=9.0;memory_mib=143771;driver=580.159.04;sms=132", *args, "detect", "--json"],
                           capture_output=True, text=True, timeout=60)
        self.assertEqual(p.returncode, 0, p.stderr)
        return json.loads(p.stdout)

    def test_a125cd84_runs_cudnn_first_on_every_call(self):
        comfy_tar, _ = TARBALLS
        with tempfile.TemporaryDirectory() as tmp:
            with tarfile.open(comfy_tar) as t:
                t.extract("ComfyUI/comfy/ops.py", tmp)
            got = self.detect("--comfyui", os.path.join(tmp, "ComfyUI"))["comfyui_sdpa"]
        self.assertEqual(got["order"], ["CUDNN_ATTENTION", "FLASH_ATTENTION", "EFFICIENT_ATTENTION", "MATH"])
        self.assertEqual(got["min_elements"], 0)

    def test_an_unreadable_folder_is_a_warning_and_the_assumption(self):
        d = self.detect("--comfyui", "/nonexistent/ComfyUI")
        self.assertIsNone(d["comfyui_sdpa"])
        self.assertTrue(any("cannot read /nonexistent/ComfyUI/comfy/ops.py" in w for w in d["warnings"]), d["warnings"])


if __name__ == "__main__":
    AUTOTUNE = sys.argv.pop(1)
    TARBALLS = find_tarballs()
    if TARBALLS is None:
        print("skipped: no ComfyUI tarball in ../shared/comfyui (set COMFYUI_SHARED_DIR)")
        sys.exit(77)
    prog = unittest.main(exit=False, verbosity=2)
    sys.exit(0 if prog.result.wasSuccessful() else 1)

"""The node's packaging for the Comfy Registry and ComfyUI-Manager (docs.comfy.org/registry/specifications).
Loading each install layout into the real ComfyUI is test_real_comfyui.py's."""
import os
import re
import subprocess
import sys
import tomllib
import unittest

from node_testlib import REPO


class PackagingTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        with open(os.path.join(REPO, "pyproject.toml"), "rb") as f:
            cls.doc = tomllib.load(f)

    def test_registry_fields(self):
        project, comfy = self.doc["project"], self.doc["tool"]["comfy"]
        # Node id: under 100 characters, letters, digits, '-', '_', '.', no two special characters
        # in a row, starting with a letter; the registry asks not to include "ComfyUI".
        self.assertRegex(project["name"], r"^[A-Za-z](?:[A-Za-z0-9]|[-_.](?=[A-Za-z0-9]))*$")
        self.assertLess(len(project["name"]), 100)
        self.assertNotIn("comfyui", project["name"].lower())
        self.assertTrue(project["description"])
        self.assertTrue(set(project["license"]) & {"text", "file"}, project["license"])
        self.assertIn("Repository", project["urls"])
        for key in ("PublisherId", "DisplayName"):
            self.assertTrue(comfy[key], key)

    def test_version_is_the_projects(self):
        with open(os.path.join(REPO, "CMakeLists.txt")) as f:
            cmake = re.search(r"project\(\S+ VERSION (\d+\.\d+\.\d+)", f.read()).group(1)
        self.assertEqual(self.doc["project"]["version"], cmake)

    def test_nothing_for_manager_to_pip_install(self):
        # Manager pip-installs requirements.txt and project dependencies; the node needs only torch.
        self.assertEqual(self.doc["project"]["dependencies"], [])
        for folder in (REPO, os.path.join(REPO, "comfyui_node")):
            self.assertFalse(os.path.exists(os.path.join(folder, "requirements.txt")), folder)

    def test_install_py_runs_as_manager_runs_it(self):
        run = subprocess.run([sys.executable, "install.py"], cwd=os.path.join(REPO, "comfyui_node"),
                             capture_output=True, text=True, timeout=60)
        self.assertEqual(run.returncode, 0, run.stderr)
        self.assertIn("nothing to install", run.stdout)


if __name__ == "__main__":
    unittest.main()

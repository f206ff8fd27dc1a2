import os
import tempfile
import unittest

from node_testlib import GPU, decision_doc, route, write_json
from comfyui_node import decision


class DecisionFileTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.dir = self.tmp.name

    def tearDown(self):
        self.tmp.cleanup()

    def load_doc(self, doc):
        return decision.load(write_json(self.dir, doc))

    def assert_error(self, doc_or_text, *fragments):
        path = os.path.join(self.dir, "d.json")
        with open(path, "w") as f:
            f.write(doc_or_text if isinstance(doc_or_text, str) else __import__("json").dumps(doc_or_text))
        with self.assertRaises(decision.DecisionError) as cm:
            decision.load(path)
        for fragment in fragments:
            self.assertIn(fragment, str(cm.exception))
        self.assertIn(path, str(cm.exception))

    def test_valid_file(self):
        d = self.load_doc(decision_doc([route("flux-1024", 1, 24, 128, 4352, 4352, "flash3", 0.361)]))
        self.assertEqual((d.gpu_name, d.default_backend, d.source), (GPU, "sdpa_cudnn", "tuning"))
        self.assertEqual(len(d.routes), 1)
        self.assertEqual((d.routes[0].workload, d.routes[0].batch_heads, d.routes[0].backend),
                         ("flux-1024", 24, "flash3"))

    def test_missing_unreadable_and_garbage(self):
        missing = os.path.join(self.dir, "none.json")
        with self.assertRaisesRegex(decision.DecisionError, "does not exist"):
            decision.load(missing)
        with self.assertRaisesRegex(decision.DecisionError, "unreadable"):
            decision.load(self.dir)  # a directory: open() fails even as root
        self.assert_error("{not json", "not valid JSON")
        self.assert_error("[1, 2]", "expected a JSON object")
        with open(os.path.join(self.dir, "bin.json"), "wb") as f:
            f.write(b"\xff\xfe\x00garbage")
        with self.assertRaisesRegex(decision.DecisionError, "unreadable|not valid JSON"):
            decision.load(os.path.join(self.dir, "bin.json"))

    def test_field_errors_name_the_value(self):
        doc = decision_doc([])
        doc["schema"] = 7
        self.assert_error(doc, "schema is 7, expected 1")
        doc = decision_doc([])
        del doc["gpu"]["name"]
        self.assert_error(doc, "gpu.name")
        doc = decision_doc([])
        doc["default_backend"] = 3
        self.assert_error(doc, "default_backend is 3")
        self.assert_error(decision_doc([route("w", 1, 24, 128, 0, 4352, "flash3")]),
                          "routes[0].q_len is 0, expected a positive integer")
        self.assert_error(decision_doc([route("w", 1, True, 128, 1, 4352, "flash3")]), "routes[0].heads is True")
        self.assert_error(decision_doc([route("w", 1, 2, 128, 1, 2, "")]), "routes[0].backend")

    def test_comfyuis_sdpa_priority(self):
        self.assertIsNone(self.load_doc(decision_doc([])).comfyui_sdpa)  # an older autotune's file
        doc = decision_doc([])
        doc["comfyui_sdpa"] = {"order": ["FLASH_ATTENTION", "CUDNN_ATTENTION"], "min_elements": 131072}
        self.assertEqual(self.load_doc(doc).comfyui_sdpa, (("FLASH_ATTENTION", "CUDNN_ATTENTION"), 131072))
        doc["comfyui_sdpa"] = {"order": ["WARP"], "min_elements": 0}
        self.assert_error(doc, "comfyui_sdpa.order is ['WARP']")
        doc["comfyui_sdpa"] = {"order": [], "min_elements": -1}
        self.assert_error(doc, "comfyui_sdpa.min_elements is -1")

    def test_unknown_backend_is_not_a_file_error(self):
        d = self.load_doc(decision_doc([route("w", 1, 2, 64, 8, 8, "warp_drive")], default_backend="nope"))
        self.assertEqual((d.routes[0].backend, d.default_backend), ("warp_drive", "nope"))

    def test_staleness(self):
        d = self.load_doc(decision_doc([], torch_version="2.11.0+cu130"))
        self.assertIsNone(decision.staleness(d, GPU, "2.11.0+cu130"))
        why = decision.staleness(d, "NVIDIA A100-SXM4-80GB", "2.11.0+cu130")
        self.assertIn("made for GPU 'NVIDIA Test GPU 80GB'", why)
        self.assertIn("'NVIDIA A100-SXM4-80GB'", why)
        why = decision.staleness(d, GPU, "2.10.0+cu128")
        self.assertIn("torch 2.11.0+cu130", why)
        self.assertIn("torch 2.10.0+cu128", why)

    def test_path_from_environment(self):
        self.assertEqual(decision.decision_path({}), decision.DEFAULT_PATH)
        self.assertEqual(decision.decision_path({"COMFYUI_ATTENTION_DECISION": "/x.json"}), "/x.json")


if __name__ == "__main__":
    unittest.main()

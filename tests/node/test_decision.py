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



class QualityTest(unittest.TestCase):
    """The decision's "quality" object and routes' exact_backend."""

    def doc(self, quality=None, exact_backend="flash3"):
        r = route("wan", 1, 12, 128, 32760, 32760, "sage_fp8_sm90")
        if exact_backend is not None:
            r["exact_backend"] = exact_backend
        d = decision_doc([r])
        if quality is not None:
            d["quality"] = quality
        return d

    def test_level_exact_steps_and_exact_backend_are_read(self):
        dec = decision.parse(self.doc({"level": "balanced", "exact_steps": 2, "steps": 30, "step_ms": 1.0}))
        self.assertEqual((dec.quality_level, dec.exact_steps), ("balanced", 2))
        self.assertEqual(dec.routes[0].exact_backend, "flash3")
        old = decision.parse(self.doc(None, exact_backend=None))  # an older autotune's file
        self.assertEqual((old.quality_level, old.exact_steps, old.routes[0].exact_backend), (None, 0, None))

    def test_bad_values_are_named(self):
        for quality, exact, needle in (({"level": "fastest"}, "flash3", "quality.level is 'fastest'"),
                                       ({"exact_steps": -1}, "flash3", "quality.exact_steps is -1"),
                                       ({"exact_steps": True}, "flash3", "quality.exact_steps is True"),
                                       ([], "flash3", "quality is []"),
                                       (None, "", "routes[0].exact_backend is ''")):
            with self.subTest(needle=needle):
                with self.assertRaises(decision.DecisionError) as c:
                    decision.parse(self.doc(quality, exact))
                self.assertIn(needle, str(c.exception))

    def test_the_environment_sets_the_exact_steps_over_the_decision(self):
        dec = decision.parse(self.doc({"level": "balanced", "exact_steps": 1}))
        self.assertEqual(decision.exact_steps(dec, {}), (1, "decision"))
        self.assertEqual(decision.exact_steps(dec, {"AUTOTUNE_EXACT_STEPS": "3"}), (3, "AUTOTUNE_EXACT_STEPS"))
        self.assertEqual(decision.exact_steps(dec, {"AUTOTUNE_EXACT_STEPS": "0"}), (0, "AUTOTUNE_EXACT_STEPS"))
        for bad in ("-1", "two", "1001"):
            with self.assertRaises(decision.DecisionError):
                decision.exact_steps(dec, {"AUTOTUNE_EXACT_STEPS": bad})

    def test_sage_kernel_ids_are_the_adapters(self):
        from comfyui_node import backends
        self.assertEqual(set(decision.SAGE_KERNEL_IDS), set(backends.SAGE_KERNELS))
        for backend_id in decision.SAGE_KERNEL_IDS:
            self.assertIn(backend_id, decision.BACKEND_IDS)
            self.assertTrue(backends.is_quantized(backend_id))


if __name__ == "__main__":
    unittest.main()

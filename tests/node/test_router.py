"""The node inside a (stand-in) ComfyUI: install, routing per shape, numerics, fallbacks, inertness."""
import importlib
import logging
import sys
import tempfile
import time
import types
import unittest
from unittest import mock

from node_testlib import GPU, decision_doc, route, write_json

import torch

# Before comfy: importing the package with comfy loaded would install it from the environment.
from comfyui_node import hook as node_install
import comfy.ldm.modules.attention as attention  # noqa: E402
import comfy.model_patcher as model_patcher  # noqa: E402
import flash_attn  # noqa: E402
import flash_attn_interface  # noqa: E402
import sageattention  # noqa: E402

LOGGER = "comfyui_attention_autotune"
HAS_SDPA = hasattr(torch.nn.functional, "scaled_dot_product_attention")

# Tiny stand-ins for DESIGN.md's shapes: (name, batch, heads, head_dim, q_len, kv_len, layout, backend)
FLUX = ("flux", 1, 2, 16, 64, 64, "bhld", "flash3")
WAN = ("wan", 1, 2, 16, 256, 256, "blhd_flat", "sage")
WAN_CROSS = ("wan-cross", 1, 2, 16, 256, 24, "blhd_flat", "xformers")
SDXL = ("sdxl", 2, 2, 8, 64, 64, "blhd_flat", "sdpa_cudnn")
SD15 = ("sd15", 2, 2, 40, 32, 32, "blhd_flat", "flash2")
SHAPES = (FLUX, WAN, WAN_CROSS, SDXL, SD15)


def inputs(shape, seed=0, dtype=torch.float32):
    _, b, h, d, lq, lkv, layout, _ = shape
    g = torch.Generator().manual_seed(seed)
    if layout == "bhld":
        mk = lambda l: torch.randn(b, h, l, d, generator=g, dtype=torch.float32).to(dtype)  # noqa: E731
        return mk(lq), mk(lkv), mk(lkv), dict(skip_reshape=True)
    mk = lambda l: torch.randn(b, l, h * d, generator=g, dtype=torch.float32).to(dtype)  # noqa: E731
    return mk(lq), mk(lkv), mk(lkv), {}


class NodeTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.original_init = model_patcher.ModelPatcher.__init__
        self.registered = dict(attention.REGISTERED_ATTENTION_FUNCTIONS)
        for module in (flash_attn, flash_attn_interface, sageattention):
            module.CALLS.clear()
            module.FAIL = None
        flash_attn_interface.RETURN_LSE = False

    def tearDown(self):
        model_patcher.ModelPatcher.__init__ = self.original_init
        attention.REGISTERED_ATTENTION_FUNCTIONS.clear()
        attention.REGISTERED_ATTENTION_FUNCTIONS.update(self.registered)
        self.tmp.cleanup()

    def install(self, doc, device_name=GPU, torch_version=None, attention_module=attention, env=None):
        path = write_json(self.tmp.name, doc)
        environ = {"COMFYUI_ATTENTION_DECISION": path}
        environ.update(env or {})
        with self.assertLogs(LOGGER, level="INFO") as logs:
            router = node_install.install(attention=attention_module, patcher_cls=model_patcher.ModelPatcher,
                                          environ=environ, device_name=device_name,
                                          torch_version=torch_version or torch.__version__)
        return router, logs.output

    def standard_doc(self, default="sdpa_cudnn"):
        return decision_doc([route(s[0], s[1], s[2], s[3], s[4], s[5], s[7]) for s in SHAPES],
                            default_backend=default)

    def call(self, patcher, shape, seed=0, **extra):
        q, k, v, kw = inputs(shape, seed)
        kw.update(extra)
        options = patcher.model_options["transformer_options"] if patcher is not None else {}
        return attention.optimized_attention(q, k, v, shape[2], transformer_options=options, **kw)

    def test_routes_each_shape_to_its_winner_with_default_numerics(self):
        router, logs = self.install(self.standard_doc())
        self.assertEqual(len(logs), 1, logs)
        self.assertIn("applied", logs[0])
        self.assertIn("flux [1x2x16, q 64 kv 64] -> flash3", logs[0])
        patcher = model_patcher.ModelPatcher(object(), "cuda", "cpu").clone()  # clones keep the router
        self.assertIs(patcher.model_options["transformer_options"]["optimized_attention_override"], router)
        for shape in SHAPES:
            with self.subTest(shape=shape[0]):
                routed = self.call(patcher, shape)
                default = self.call(None, shape)
                self.assertEqual(routed.shape, default.shape)
                self.assertTrue(torch.allclose(routed, default, atol=1e-5, rtol=1e-4),
                                (routed - default).abs().max())
        self.assertEqual(flash_attn_interface.CALLS, [(1, 64, 2, 16)])  # (B, L, H, D) from (B, H, L, D)
        self.assertEqual(sageattention.CALLS, [("NHD", (1, 256, 2, 16))])
        self.assertEqual(flash_attn.CALLS, [(2, 32, 2, 40)])
        for backend in ("flash3", "sage", "xformers", "flash2"):
            self.assertEqual(router.stats["route:" + backend], 1, router.stats)
        if HAS_SDPA:
            self.assertEqual(router.stats["route:sdpa_cudnn"], 0)  # no CUDA here: cuDNN raises
        else:
            # torch < 2.0: SDPA adapters cannot exist; the shape and the default go to ComfyUI, counted.
            self.assertEqual(router.stats["comfy:sdpa_cudnn unavailable"], 1, router.stats)
            self.assertIn("sdpa_cudnn (torch {} has no scaled_dot_product_attention".format(torch.__version__),
                          logs[0])

    def test_output_layouts(self):
        router, _ = self.install(self.standard_doc())
        patcher = model_patcher.ModelPatcher(object(), "cuda", "cpu")
        for shape in (FLUX, WAN, SD15):
            for flags in ({"skip_output_reshape": True}, {}):
                with self.subTest(shape=shape[0], flags=flags):
                    routed = self.call(patcher, shape, **flags)
                    default = self.call(None, shape, **flags)
                    self.assertEqual(routed.shape, default.shape)
                    self.assertTrue(torch.allclose(routed, default, atol=1e-5, rtol=1e-4))
        # sage with (B, H, L, D) input takes it as is ("HND"), no transpose.
        sage_bhld = ("wan-bhld",) + WAN[1:6] + ("bhld", "sage")
        router2_doc = decision_doc([route("w", 1, 2, 16, 256, 256, "sage")])
        model_patcher.ModelPatcher.__init__ = self.original_init
        self.install(router2_doc)
        self.call(model_patcher.ModelPatcher(object(), "cuda", "cpu"), sage_bhld)
        self.assertEqual(sageattention.CALLS[-1], ("HND", (1, 2, 256, 16)))

    def test_flash3_returning_lse_tuple(self):
        flash_attn_interface.RETURN_LSE = True
        router, _ = self.install(self.standard_doc())
        patcher = model_patcher.ModelPatcher(object(), "cuda", "cpu")
        self.assertTrue(torch.allclose(self.call(patcher, FLUX), self.call(None, FLUX), atol=1e-5))
        self.assertEqual(router.stats["route:flash3"], 1)

    def test_unrouted_shapes_take_the_default_backend(self):
        router, _ = self.install(decision_doc([route(*FLUX[:6], FLUX[7])], default_backend="flash2"))
        patcher = model_patcher.ModelPatcher(object(), "cuda", "cpu")
        other = ("other", 1, 2, 32, 48, 48, "blhd_flat", None)
        out = self.call(patcher, other)
        self.assertTrue(torch.allclose(out, self.call(None, other), atol=1e-5))
        self.assertEqual(router.stats["default:flash2"], 1)
        self.assertEqual(flash_attn.CALLS, [(1, 48, 2, 32)])

    def test_masked_calls_stay_on_comfy(self):
        router, _ = self.install(self.standard_doc())
        patcher = model_patcher.ModelPatcher(object(), "cuda", "cpu")
        mask = torch.ones(1, 1, 64, 64, dtype=torch.bool)
        self.call(patcher, FLUX, mask=mask)
        self.assertEqual(flash_attn_interface.CALLS, [])

    def test_exception_in_backend_falls_back_counts_and_logs_once(self):
        router, _ = self.install(self.standard_doc())
        patcher = model_patcher.ModelPatcher(object(), "cuda", "cpu")
        flash_attn_interface.FAIL = RuntimeError("illegal memory access (stand-in)")
        with self.assertLogs(LOGGER, level="WARNING") as logs:
            out = self.call(patcher, FLUX)
            again = self.call(patcher, FLUX, seed=1)
        self.assertTrue(torch.allclose(out, self.call(None, FLUX), atol=1e-6))
        self.assertTrue(torch.allclose(again, self.call(None, FLUX, seed=1), atol=1e-6))
        self.assertEqual(router.stats["fallback:flash3"], 1)
        self.assertEqual(router.failures["flash3"], 1)
        self.assertEqual(router.stats["comfy:flash3 failed"], 1)  # the shape is not retried
        self.assertEqual(len(flash_attn_interface.CALLS), 1)
        self.assertEqual(len(logs.output), 1)
        self.assertIn("flash3 failed (RuntimeError: illegal memory access (stand-in))", logs.output[0])
        # Other shapes keep their routes.
        self.call(patcher, WAN)
        self.assertEqual(router.stats["route:sage"], 1)

    def test_sage_rejecting_a_head_dim_falls_back(self):
        big = ("big", 1, 2, 160, 32, 32, "blhd_flat", "sage")  # SageAttention raises above 128
        router, _ = self.install(decision_doc([route(*big[:6], "sage")]))
        patcher = model_patcher.ModelPatcher(object(), "cuda", "cpu")
        with self.assertLogs(LOGGER, level="WARNING"):
            out = self.call(patcher, big)
        self.assertTrue(torch.allclose(out, self.call(None, big), atol=1e-5))
        self.assertEqual(router.stats["fallback:sage"], 1)

    def test_unknown_backend_logged_once_and_left_to_comfy(self):
        doc = decision_doc([route(*FLUX[:6], "warp_drive"), route(*WAN[:6], "warp_drive")], default_backend="flash2")
        router, logs = self.install(doc)
        unknown = [line for line in logs if "unknown backend 'warp_drive'" in line]
        self.assertEqual(len(unknown), 1, logs)
        patcher = model_patcher.ModelPatcher(object(), "cuda", "cpu")
        self.call(patcher, FLUX)
        self.call(patcher, WAN)
        # The measured shape's winner is unknown: the decision's default runs it.
        self.assertEqual(router.stats["default:flash2 (warp_drive unknown)"], 2, router.stats)
        self.assertEqual(flash_attn_interface.CALLS, [])

    def test_user_override_wins(self):
        router, _ = self.install(self.standard_doc())
        patcher = model_patcher.ModelPatcher(object(), "cuda", "cpu").clone()
        mine = lambda func, *a, **kw: func(*a, **kw)  # noqa: E731
        patcher.model_options["transformer_options"]["optimized_attention_override"] = mine
        self.assertIs(patcher.clone().model_options["transformer_options"]["optimized_attention_override"], mine)

    def test_registers_missing_backends_by_name(self):
        router, _ = self.install(self.standard_doc())
        fa3 = attention.get_attention_function("autotune_flash3")
        q, k, v, kw = inputs(FLUX)
        out = fa3(q, k, v, 2, **kw)
        self.assertTrue(torch.allclose(out, attention.attention_pytorch(q, k, v, 2, **kw), atol=1e-5))
        self.assertIsNone(attention.get_attention_function("autotune_sdpa_comfy", None))
        # Installing twice (node reloaded) neither duplicates nor double-wraps.
        model_patcher.ModelPatcher.__init__ = model_patcher.ModelPatcher.__init__
        router2, _ = self.install(self.standard_doc())
        p = model_patcher.ModelPatcher(object(), "cuda", "cpu")
        self.assertIs(p.model_options["transformer_options"]["optimized_attention_override"], router2)

    def test_stale_decision_leaves_comfy_unchanged(self):
        for kwargs, expected in (({"device_name": "NVIDIA A100-SXM4-80GB"}, "made for GPU"),
                                 ({"torch_version": "0.0.1"}, "made with torch")):
            with self.subTest(expected=expected):
                router, logs = self.install(self.standard_doc(), **kwargs)
                self.assertIsNone(router)
                self.assertEqual(len(logs), 1)
                self.assertIn(expected, logs[0])
                self.assertIn("inert", logs[0])
                patcher = model_patcher.ModelPatcher(object(), "cuda", "cpu")
                self.assertNotIn("optimized_attention_override", patcher.model_options["transformer_options"])

    def test_missing_or_garbage_file_is_inert_with_one_line(self):
        for content, expected in ((None, "does not exist"), ("{{{", "not valid JSON"), ("{}", "schema is None")):
            with self.subTest(expected=expected):
                path = self.tmp.name + "/d.json"
                if content is not None:
                    with open(path, "w") as f:
                        f.write(content)
                else:
                    path = self.tmp.name + "/absent.json"
                with self.assertLogs(LOGGER, level="INFO") as logs:
                    router = node_install.install(attention=attention, patcher_cls=model_patcher.ModelPatcher,
                                                  environ={"COMFYUI_ATTENTION_DECISION": path}, device_name=GPU)
                self.assertIsNone(router)
                self.assertEqual(len(logs.output), 1)
                self.assertIn(expected, logs.output[0])
                self.assertIs(model_patcher.ModelPatcher.__init__, self.original_init)

    def test_no_cuda_device_is_inert(self):
        path = write_json(self.tmp.name, self.standard_doc())
        with mock.patch.object(torch.cuda, "is_available", return_value=False), \
                self.assertLogs(LOGGER, level="INFO") as logs:
            router = node_install.install(attention=attention, patcher_cls=model_patcher.ModelPatcher,
                                          environ={"COMFYUI_ATTENTION_DECISION": path})
        self.assertIsNone(router)
        self.assertIn("no CUDA device", logs.output[0])

    def test_disabled_by_environment(self):
        router, logs = self.install(self.standard_doc(), env={"COMFYUI_ATTENTION_AUTOTUNE": "0"})
        self.assertIsNone(router)
        self.assertIn("disabled by COMFYUI_ATTENTION_AUTOTUNE=0", logs[0])

    def test_old_comfyui_without_registry_does_nothing(self):
        old = types.ModuleType("comfy.ldm.modules.attention")
        old.optimized_attention = attention.attention_pytorch
        router, logs = self.install(self.standard_doc(), attention_module=old)
        self.assertIsNone(router)
        self.assertEqual(len(logs), 1)
        self.assertIn("no attention registry (register_attention_function, get_attention_function, wrap_attn missing",
                      logs[0])
        self.assertIs(model_patcher.ModelPatcher.__init__, self.original_init)

    def test_package_import_installs_inside_comfyui(self):
        path = write_json(self.tmp.name, self.standard_doc())
        sys.modules.pop("comfyui_node", None)
        with mock.patch.dict("os.environ", {"COMFYUI_ATTENTION_DECISION": path, "COMFYUI_ATTENTION_AUTOTUNE": "1"}), \
                mock.patch.object(torch.cuda, "is_available", return_value=True), \
                mock.patch.object(torch.cuda, "current_device", return_value=0), \
                mock.patch.object(torch.cuda, "get_device_name", return_value=GPU), \
                self.assertLogs(LOGGER, level="INFO"):
            package = importlib.import_module("comfyui_node")
        self.assertEqual(package.NODE_CLASS_MAPPINGS, {})
        self.assertIsNotNone(package.ROUTER)
        p = model_patcher.ModelPatcher(object(), "cuda", "cpu")
        self.assertIs(p.model_options["transformer_options"]["optimized_attention_override"], package.ROUTER)

    def test_a_shape_is_resolved_once_then_served_from_the_cache(self):
        # The hot path is a dict lookup (its host cost is measured on the device by
        # scripts/bench/node_step_bench.py, router_us): resolving the route again per call would not be.
        router, _ = self.install(self.standard_doc())
        q, k, v, _ = inputs(WAN)
        noop = lambda *a, **kw: None  # noqa: E731
        router.adapters["sage"] = noop
        router._cache.clear()
        with mock.patch.object(router, "_resolve", wraps=router._resolve) as resolve:
            for _ in range(100):
                router(noop, q, k, v, 2, transformer_options={})
        self.assertEqual(resolve.call_count, 1)
        self.assertEqual(router.stats["route:sage"], 100)


class CallFormTest(NodeTest):
    """Every call form ComfyUI's models use reaches the router (the real models' calls are in
    test_real_comfyui.py; these are the forms the pinned source has no model for)."""

    def routed(self, *args, **kwargs):
        return attention.optimized_attention(*args, **kwargs)

    def test_heads_keyword_and_positional_extras_are_routed(self):
        router, _ = self.install(self.standard_doc())
        options = model_patcher.ModelPatcher(object(), "cuda", "cpu").model_options["transformer_options"]
        q, k, v, _ = inputs(WAN)
        want = attention.attention_pytorch(q, k, v, 2)
        for args, kw in (((q, k, v), dict(heads=2)),                      # Wan, SD3, ACE-Step
                         ((q, k, v, 2, None), {}),                        # mask by position (None)
                         ((q, k, v, 2, None, None, False, False), {})):  # all of them by position
            out = self.routed(*args, transformer_options=options, **kw)
            self.assertTrue(torch.allclose(out, want, atol=1e-5))
        self.assertEqual(router.stats, {"route:sage": 3})
        fq, fk, fv, _ = inputs(FLUX)  # skip_reshape by position: (B, H, L, D)
        self.routed(fq, fk, fv, 2, None, None, True, True, transformer_options=options)
        self.assertEqual(router.stats["route:flash3"], 1)

    def test_what_no_adapter_honours_goes_to_comfy_counted_and_said_once(self):
        router, _ = self.install(self.standard_doc())
        options = model_patcher.ModelPatcher(object(), "cuda", "cpu").model_options["transformer_options"]
        q, k, v, _ = inputs(WAN)
        mask = torch.ones(1, 256, 256, dtype=torch.bool)
        with self.assertLogs(LOGGER, level="INFO") as logs:
            for _ in range(2):
                self.routed(q, k, v, heads=2, scale=0.5, transformer_options=options)  # 2026 ComfyUI
                self.routed(q, k, v, heads=2, enable_gqa=True, transformer_options=options)
                self.routed(q, k, v, heads=2, future_option=1, scale=0.5, transformer_options=options)
                self.routed(q, k, v, 2, mask, transformer_options=options)
                self.routed(q, k, v, heads=2, mask=mask, transformer_options=options)
            with self.assertRaisesRegex(TypeError, "heads"):  # ComfyUI's function says what is wrong
                self.routed(q, k, v, transformer_options=options)
        self.assertEqual(router.stats, {"comfy:scale": 2, "comfy:enable_gqa": 2, "comfy:future_option,scale": 2,
                                        "comfy:no heads": 1, "comfy:mask": 4})
        self.assertEqual(sageattention.CALLS, [])
        self.assertEqual(len(logs.output), 4, logs.output)  # one line per reason, masks not logged
        self.assertIn("attention calls with scale go to ComfyUI's own attention function", logs.output[0])

    def test_2026_tensor_containers_are_unwrapped_for_the_router(self):
        # 2026 ComfyUI's CrossAttention passes q, k, v in AttentionTensorContainer and a
        # preferred_attention; wrap_attn takes the tensors out for an override without a
        # container_function, and drops preferred_attention while an override is set.
        router, _ = self.install(self.standard_doc())
        self.assertFalse(hasattr(router, "container_function"))
        options = model_patcher.ModelPatcher(object(), "cuda", "cpu").model_options["transformer_options"]
        q, k, v, _ = inputs(SD15)
        boxed = [attention.AttentionTensorContainer(t) for t in (q, k, v)]
        preferred = types.SimpleNamespace(function=None)
        out = self.routed(*boxed, 2, attn_precision=None, preferred_attention=preferred, transformer_options=options)
        self.assertTrue(torch.allclose(out, attention.attention_pytorch(q, k, v, 2), atol=1e-5))
        self.assertEqual(router.stats, {"route:flash2": 1})
        self.assertIsNone(boxed[0].tensor)  # taken, as ComfyUI's single-owner contract says


def refusing(shapes, calls, error=RuntimeError("No available kernel. Aborting execution.")):
    """A stand-in for SDPA with only cuDNN on: raises `error` for q shapes in `shapes`."""
    def attention(q, k, v, heads, **kwargs):
        calls.append(("cudnn", tuple(q.shape)))
        if tuple(q.shape) in shapes:
            raise error
        return "cudnn"
    return attention


class PriorityFirstTest(unittest.TestCase):
    """backends.priority_first: what sdpa_comfy runs in the node (the installed ComfyUI's SDPA
    priority, as the decision file gives it)."""

    def setUp(self):
        from comfyui_node import backends
        self.backends = backends
        self.calls = []

        def kernel(name):
            def attention(q, k, v, heads, **kwargs):
                self.calls.append((name, tuple(q.shape)))
                return name
            return attention
        self.kernel = kernel

    def test_the_first_kernel_where_it_runs_the_next_where_it_refuses_without_asking_again(self):
        small, big = torch.zeros(1, 4, 8), torch.zeros(1, 16, 8)
        fn = self.backends.priority_first([refusing({(1, 16, 8)}, self.calls), self.kernel("flash")],
                                          self.kernel("plain"))
        self.assertEqual(fn(small, small, small, 2), "cudnn")
        self.assertEqual(fn(big, big, big, 2), "flash")
        self.assertEqual(fn(big, big, big, 2), "flash")
        self.assertEqual(fn(small, small, small, 2, skip_reshape=False), "cudnn")
        self.assertEqual(self.calls, [("cudnn", (1, 4, 8)), ("cudnn", (1, 16, 8)), ("flash", (1, 16, 8)),
                                      ("flash", (1, 16, 8)), ("cudnn", (1, 4, 8))])

    def test_small_inputs_and_no_priority_run_in_torchs_own_order(self):
        # 2026 ComfyUI: q under 1024 * 128 elements skips the priority; Windows-only versions on
        # Linux set none.
        small, big = torch.zeros(1, 4, 8), torch.zeros(1, 64, 8)
        fn = self.backends.priority_first([self.kernel("flash")], self.kernel("plain"), min_elements=100)
        self.assertEqual(fn(small, small, small, 2), "plain")  # 32 elements
        self.assertEqual(fn(big, big, big, 2), "flash")        # 512
        none = self.backends.priority_first([], self.kernel("plain"))
        self.assertEqual(none(big, big, big, 2), "plain")

    def test_other_errors_reach_the_router(self):
        # Not a refusal (a CUDA error, say): the router's fallback and counters handle it.
        x = torch.zeros(1, 4, 8)
        fn = self.backends.priority_first([refusing({(1, 4, 8)}, self.calls, RuntimeError("CUDA error: misaligned")),
                                           self.kernel("flash")], self.kernel("plain"))
        with self.assertRaisesRegex(RuntimeError, "misaligned"):
            fn(x, x, x, 2)
        self.assertNotIn("flash", [c[0] for c in self.calls])

    def test_sdpa_comfy_without_torch_sdpa_is_comfyuis_own_function(self):
        adapter = self.backends.make_adapter("sdpa_comfy", attention)
        if HAS_SDPA:
            self.assertEqual(adapter.__name__, "attention")  # priority_first's
        else:
            self.assertIs(adapter, attention.attention_pytorch.__wrapped__)


class FlagSwitchedTest(unittest.TestCase):
    """backends.flag_switched with fake torch flags: the SDPA adapters' hot path."""

    def setUp(self):
        from comfyui_node import backends
        self.backends = backends
        self.flags = [True, True, True, True]  # cudnn, flash, efficient, math as torch holds them
        self.seen = []  # the flags each SDPA call ran under
        self.asked = []
        getters = [lambda i=i: self.flags[i] for i in range(4)]
        setters = [lambda on, i=i: self.flags.__setitem__(i, on) for i in range(4)]
        self.switch = (getters, setters, [True, False, False, False])

    def sdpa(self, q, k, v, **kwargs):
        self.seen.append(list(self.flags))
        if self.fail:
            raise RuntimeError("No available kernel. Aborting execution.")
        return q

    def choice(self, pick):
        def choose(q, k, v):
            self.asked.append(tuple(q.shape))
            return pick
        return choose

    def run_calls(self, pick, fail=False):
        self.fail = fail
        fn = self.backends.flag_switched(self.sdpa, *self.switch, choice=self.choice(pick), backend=3)
        q = torch.zeros(2, 8, 4 * 16)  # (B, L, H*D), 4 heads
        for _ in range(3):
            try:
                out = fn(q, q, q, 4)
                self.assertEqual(tuple(out.shape), (2, 8, 64))
            except RuntimeError:
                pass
        return fn

    def test_torchs_own_pick_already_right_leaves_the_flags_alone(self):
        self.run_calls(pick=3)
        self.assertEqual(self.seen, [[True, True, True, True]] * 3)
        self.assertEqual(self.asked, [(2, 4, 8, 16)])  # asked once, on the (B, H, L, D) view

    def test_the_pick_is_asked_again_for_another_dtype(self):
        self.fail = False
        fn = self.backends.flag_switched(self.sdpa, *self.switch, choice=self.choice(3), backend=3)
        for dtype in (torch.float32, torch.float32, torch.float64):
            q = torch.zeros(1, 4, 8, 16, dtype=dtype)
            fn(q, q, q, 4, skip_reshape=True, skip_output_reshape=True)
        self.assertEqual(self.asked, [(1, 4, 8, 16)] * 2)

    def test_another_pick_switches_to_the_one_kernel_and_restores(self):
        self.run_calls(pick=1)
        self.assertEqual(self.seen, [[True, False, False, False]] * 3)
        self.assertEqual(self.flags, [True, True, True, True])
        self.assertEqual(len(self.asked), 1)

    def test_flags_restored_when_the_kernel_refuses(self):
        self.run_calls(pick=1, fail=True)
        self.assertEqual(len(self.seen), 3)
        self.assertEqual(self.flags, [True, True, True, True])

    def test_no_chooser_switches_the_flags(self):
        self.fail = False
        fn = self.backends.flag_switched(self.sdpa, *self.switch)
        q = torch.zeros(1, 4, 8, 16)
        fn(q, q, q, 4, skip_reshape=True, skip_output_reshape=True)
        self.assertEqual(self.seen, [[True, False, False, False]])


class HeadsFirstTest(unittest.TestCase):
    def test_same_view_as_comfyuis_for_dense_strided_and_offset_inputs(self):
        from comfyui_node import backends
        g = torch.Generator().manual_seed(3)
        qkv = torch.randn(2, 5, 3 * 4 * 8, generator=g)  # a fused projection: q, k, v are slices
        cases = {"dense": torch.randn(2, 5, 32, generator=g), "slice": qkv[..., 32:64],
                 "batch slice": torch.randn(3, 5, 32, generator=g)[1:], "last dim strided": qkv[..., ::3]}
        for name, t in cases.items():
            with self.subTest(name):
                want = t.view(2, -1, 4, 8).transpose(1, 2)  # ComfyUI's attention_pytorch
                got = backends._heads_first(t, 2, 4, 8)
                self.assertEqual(got.shape, want.shape)
                self.assertEqual(got.stride(), want.stride())
                self.assertEqual(got.data_ptr(), want.data_ptr())
                self.assertTrue(torch.equal(got, want))


class HeadsFirst(unittest.TestCase):
    """backends._heads_first, the SDPA adapters' (B, L, H*D) -> (B, H, L, D) view."""

    def test_matches_comfyuis_view_for_flat_and_four_dimensional_inputs(self):
        from comfyui_node import backends
        b, l, h, d = 2, 5, 3, 4
        flat = torch.randn(b, l, h * d)
        want = flat.view(b, -1, h, d).transpose(1, 2)
        self.assertTrue(torch.equal(backends._heads_first(flat, b, h, d), want))
        # SD3's split_qkv passes v as (B, L, H, D) beside flat q and k (mmdit.py).
        four = flat.view(b, l, h, d)
        got = backends._heads_first(four, b, h, d)
        self.assertEqual(got.shape, (b, h, l, d))
        self.assertTrue(torch.equal(got, want))

class StepAwareTest(NodeTest):
    """Balanced decisions: an 8-bit route runs its exact backend on the first and last
    sampling steps, told apart by transformer_options' sigmas as ComfyUI's samplers set them."""

    def step_doc(self, exact_steps=1, level="balanced"):
        """Wan's self-attention on an 8-bit kernel with flash3 for the first and last steps."""
        routes = [route(s[0], s[1], s[2], s[3], s[4], s[5], s[7]) for s in SHAPES]
        for r in routes:
            if r["workload"] == "wan":
                r["backend"], r["exact_backend"] = "sage_fp8_sm90", "flash3"
        doc = decision_doc(routes)
        doc["quality"] = {"level": level, "exact_steps": exact_steps, "steps": 30}
        return doc

    def sample(self, patcher, schedule, evaluations_per_step=1):
        """The backend that ran Wan's attention at each model evaluation of a sampling run, with
        transformer_options as comfy/samplers.py fills them: "sample_sigmas" (the whole schedule,
        set once in inner_sample) and "sigmas" (each evaluation's timestep, a new tensor)."""
        options = dict(patcher.model_options["transformer_options"])
        options["sample_sigmas"] = schedule
        ran = []
        for i in range(len(schedule) - 1):
            # Heun-like samplers evaluate again between this sigma and the next.
            for sigma in (schedule[i], (schedule[i] + schedule[i + 1]) / 2)[:evaluations_per_step]:
                options = dict(options, sigmas=torch.tensor([float(sigma)]))
                before = (len(flash_attn_interface.CALLS), len(sageattention.CALLS))
                for _ in range(2):  # two attention calls of one evaluation
                    self.step_call(WAN, options)
                after = (len(flash_attn_interface.CALLS), len(sageattention.CALLS))
                ran.append("flash3" if after[0] > before[0] else "sage" if after[1] > before[1] else "comfy")
        return ran

    def step_call(self, shape, options):
        q, k, v, kw = inputs(shape)
        return attention.optimized_attention(q, k, v, shape[2], transformer_options=options, **kw)

    def step_options(self, **options):
        """transformer_options as a model call gets them: the router's, and `options`."""
        patcher = model_patcher.ModelPatcher(object(), "cuda", "cpu")
        return dict(patcher.model_options["transformer_options"], **options)

    def test_balanced_runs_exact_attention_on_the_first_and_last_steps(self):
        router, logs = self.install(self.step_doc(exact_steps=1))
        self.assertIn("wan [1x2x16, q 256 kv 256] -> sage_fp8_sm90 (flash3 on the first and last 1 steps)", logs[0])
        self.assertIn("quality balanced", logs[0])
        patcher = model_patcher.ModelPatcher(object(), "cuda", "cpu")
        schedule = torch.linspace(14.6, 0.03, 6).tolist() + [0.0]  # 6 steps, as KSampler's ends at 0
        self.assertEqual(self.sample(patcher, torch.tensor(schedule)),
                         ["flash3", "sage", "sage", "sage", "sage", "flash3"])
        # Two attention calls per evaluation, each counted where it ran.
        self.assertEqual(router.stats["exact:flash3"], 4, router.stats)
        self.assertEqual(router.stats["route:sage_fp8_sm90"], 8, router.stats)
        # The kernel measured, with its arguments (backends.SAGE_KERNELS).
        self.assertIn(("sageattn_qk_int8_pv_fp8_cuda_sm90", "NHD", (1, 256, 2, 16),
                       (("pv_accum_dtype", "fp32+fp32"), ("qk_quant_gran", "per_thread"))), sageattention.CALLS)
        # Other shapes are not step-aware.
        self.step_call(FLUX, self.step_options(sample_sigmas=torch.tensor(schedule), sigmas=torch.tensor([schedule[0]])))
        self.assertEqual(router.stats["route:flash3"], 1, router.stats)

    def test_midpoint_evaluations_count_as_the_step_they_start_from(self):
        self.install(self.step_doc(exact_steps=2))
        patcher = model_patcher.ModelPatcher(object(), "cuda", "cpu")
        schedule = torch.tensor([10.0, 8.0, 6.0, 4.0, 2.0, 1.0, 0.5, 0.0])  # 7 steps
        self.assertEqual(self.sample(patcher, schedule, evaluations_per_step=2),
                         ["flash3"] * 4 + ["sage"] * 6 + ["flash3"] * 4)

    def test_the_environment_sets_the_exact_steps_over_the_decision(self):
        schedule = torch.tensor([5.0, 4.0, 3.0, 2.0, 1.0, 0.0])
        for env, want in (({"AUTOTUNE_EXACT_STEPS": "0"}, ["sage"] * 5),
                          ({"AUTOTUNE_EXACT_STEPS": "2"}, ["flash3", "flash3", "sage", "flash3", "flash3"]),
                          ({"AUTOTUNE_EXACT_STEPS": "9"}, ["flash3"] * 5),
                          ({}, ["flash3", "sage", "sage", "sage", "flash3"])):
            with self.subTest(env=env):
                self.install(self.step_doc(exact_steps=1), env=env)
                patcher = model_patcher.ModelPatcher(object(), "cuda", "cpu")  # with this router
                self.assertEqual(self.sample(patcher, schedule), want)
        with self.assertLogs(LOGGER, level="INFO") as logs:
            node_install.install(attention=attention, patcher_cls=model_patcher.ModelPatcher,
                                 environ={"COMFYUI_ATTENTION_DECISION": write_json(self.tmp.name, self.step_doc(3)),
                                          "AUTOTUNE_EXACT_STEPS": "many"},
                                 device_name=GPU, torch_version=torch.__version__)
        self.assertTrue(any("AUTOTUNE_EXACT_STEPS='many' is not an integer in 0..1000; the decision's 3 exact "
                            "steps apply" in line for line in logs.output), logs.output)

    def test_without_the_samplers_sigmas_the_route_runs_on_every_call(self):
        router, _ = self.install(self.step_doc(exact_steps=1))
        with self.assertLogs(LOGGER, level="INFO") as logs:
            for _ in range(3):
                self.step_call(WAN, self.step_options())
        self.assertEqual(router.stats["route:sage_fp8_sm90"], 3, router.stats)
        self.assertEqual(len([line for line in logs.output if "step is unknown" in line]), 1, logs.output)

    def test_the_step_is_worked_out_once_per_model_evaluation(self):
        router, _ = self.install(self.step_doc(exact_steps=1))
        schedule = torch.tensor([3.0, 2.0, 1.0, 0.0])
        options = self.step_options(sample_sigmas=schedule, sigmas=torch.tensor([2.0]))
        with mock.patch("comfyui_node.routing.is_exact_step", wraps=node_install.routing.is_exact_step) as check:
            for _ in range(5):
                self.step_call(WAN, options)
        self.assertEqual(check.call_count, 1)
        self.assertEqual(router.stats["route:sage_fp8_sm90"], 5, router.stats)

    def test_an_exact_backend_that_cannot_run_here_leaves_those_steps_to_comfyui(self):
        doc = self.step_doc(exact_steps=1)
        for r in doc["routes"]:
            if r["workload"] == "wan":
                r["exact_backend"] = "sdpa_cudnn" if not HAS_SDPA else "no_such_backend"
        router, _ = self.install(doc)
        schedule = torch.tensor([3.0, 2.0, 1.0, 0.0])
        patcher = model_patcher.ModelPatcher(object(), "cuda", "cpu")
        self.assertEqual(self.sample(patcher, schedule), ["comfy", "sage", "comfy"])
        self.assertTrue([k for k in router.stats if k.startswith("comfy:exact ")], router.stats)


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO)
    unittest.main()

import unittest

import node_testlib  # noqa: F401  (import paths)
from comfyui_node.decision import Route
from comfyui_node.routing import DEFAULT, EXACT, NEAR, RouteTable, is_exact_step, step_index


def r(workload, b, h, d, q, kv, backend, ms=None):
    return Route(workload, b, h, d, q, kv, backend, ms)


# DESIGN.md's H100 shapes and winners.
TABLE = RouteTable([
    r("sdxl-self", 2, 10, 64, 4096, 4096, "sdpa_cudnn"),
    r("sdxl-cross", 2, 10, 64, 4096, 77, "sdpa_cudnn"),
    r("sd35-large", 2, 38, 64, 4250, 4250, "flash3"),
    r("flux", 1, 24, 128, 4352, 4352, "flash3"),
    r("wan-720p", 1, 40, 128, 75600, 75600, "sage"),
], "sdpa_comfy")


class RouteTableTest(unittest.TestCase):
    def test_exact_shapes_get_their_winner(self):
        self.assertEqual(TABLE.lookup(64, 4096, 4096, 20)[:2], ("sdpa_cudnn", EXACT))
        self.assertEqual(TABLE.lookup(64, 4250, 4250, 76)[:2], ("flash3", EXACT))
        self.assertEqual(TABLE.lookup(128, 4352, 4352, 24)[:2], ("flash3", EXACT))
        self.assertEqual(TABLE.lookup(128, 75600, 75600, 40)[:2], ("sage", EXACT))

    def test_batch_one_without_cfg_batching_borrows_the_batch_two_winner(self):
        backend, how, route = TABLE.lookup(64, 4096, 4096, 10)
        self.assertEqual((backend, how, route.workload), ("sdpa_cudnn", NEAR, "sdxl-self"))

    def test_nearby_token_count_same_head_dim(self):
        # Qwen-Image-like 6889 tokens at 24x128: within a factor 2 of Flux's 4352.
        backend, how, route = TABLE.lookup(128, 6889, 6889, 24)
        self.assertEqual((backend, how, route.workload), ("flash3", NEAR, "flux"))

    def test_cross_attention_never_borrows_from_self_attention(self):
        # 4096 queries over 154 keys: nearest kv route is 77 keys (factor 2), not 4096.
        backend, how, route = TABLE.lookup(64, 4096, 154, 20)
        self.assertEqual((backend, route.workload), ("sdpa_cudnn", "sdxl-cross"))
        self.assertEqual(TABLE.lookup(64, 4096, 512, 20)[:2], ("sdpa_comfy", DEFAULT))

    def test_batch_heads_keeps_sdxl_and_sd35_apart(self):
        # SD3.5-M: 24 heads x 64, 4250 tokens, B=2 -> bh 48: within 2x of SD3.5-L's 76, not SDXL's 20.
        backend, how, route = TABLE.lookup(64, 4250, 4250, 48)
        self.assertEqual((backend, route.workload), ("flash3", "sd35-large"))
        # SDXL at bh 20 is exact; at bh 30 (between) the nearer in log distance wins: 20 (0.58) vs 76 (1.34 > 1).
        self.assertEqual(TABLE.lookup(64, 4096, 4096, 30)[2].workload, "sdxl-self")

    def test_other_head_dim_or_far_shapes_use_the_default(self):
        self.assertEqual(TABLE.lookup(80, 4096, 4096, 20)[:2], ("sdpa_comfy", DEFAULT))
        self.assertEqual(TABLE.lookup(128, 32760, 32760, 40)[:2], ("sdpa_comfy", DEFAULT))  # Wan 480p vs 720p
        self.assertEqual(TABLE.lookup(128, 4352, 4352, 96)[:2], ("sdpa_comfy", DEFAULT))   # 4x the heads

    def test_ties_resolve_to_the_first_route(self):
        table = RouteTable([r("a", 1, 8, 64, 1000, 1000, "flash2"), r("b", 1, 8, 64, 4000, 4000, "sage")], "x")
        # 2000 is exactly 1 octave from both: the first listed wins, every time.
        for _ in range(3):
            self.assertEqual(table.lookup(64, 2000, 2000, 8)[0], "flash2")

    def test_duplicate_shape_keeps_the_faster(self):
        table = RouteTable([r("a", 1, 8, 64, 1000, 1000, "flash2", 2.0),
                            r("b", 1, 8, 64, 1000, 1000, "sage", 1.0)], "x")
        self.assertEqual(table.lookup(64, 1000, 1000, 8)[:2], ("sage", EXACT))

    def test_empty_table(self):
        self.assertEqual(RouteTable([], "flash3").lookup(64, 10, 10, 1)[:2], ("flash3", DEFAULT))



class StepTest(unittest.TestCase):
    SCHEDULE = [14.6, 8.0, 4.0, 2.0, 1.0, 0.5, 0.0]  # 6 steps, ending at 0 as KSampler's do

    def test_each_schedule_sigma_is_its_step(self):
        self.assertEqual([step_index(s, self.SCHEDULE) for s in self.SCHEDULE[:-1]], [0, 1, 2, 3, 4, 5])

    def test_between_two_sigmas_is_the_earlier_step(self):
        self.assertEqual(step_index(6.0, self.SCHEDULE), 1)   # a midpoint of step 1
        self.assertEqual(step_index(0.2, self.SCHEDULE), 5)
        self.assertEqual(step_index(20.0, self.SCHEDULE), 0)  # above the first (churn): step 0
        self.assertEqual(step_index(8.0 * (1 - 1e-7), self.SCHEDULE), 1)  # float32 rounding

    def test_first_and_last_steps_are_exact(self):
        exact = [is_exact_step(s, self.SCHEDULE, 1) for s in self.SCHEDULE[:-1]]
        self.assertEqual(exact, [True, False, False, False, False, True])
        self.assertEqual([is_exact_step(s, self.SCHEDULE, 2) for s in self.SCHEDULE[:-1]],
                         [True, True, False, False, True, True])
        self.assertFalse(any(is_exact_step(s, self.SCHEDULE, 0) for s in self.SCHEDULE))
        self.assertTrue(all(is_exact_step(s, self.SCHEDULE, 3) for s in self.SCHEDULE[:-1]))

    def test_an_unusable_schedule_is_not_step_aware(self):
        self.assertIsNone(step_index(1.0, [1.0]))
        self.assertFalse(is_exact_step(1.0, [], 1))


if __name__ == "__main__":
    unittest.main()

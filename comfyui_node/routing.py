"""Which measured route a call's shape falls into. Pure: numbers in, route out.

A call is described by (head_dim, q_len, kv_len, batch*heads). Rules, in order:

1. Exact match on all four.
2. Nearest similar route: same head_dim, and q_len, kv_len and batch*heads each within a factor
   of 2 of the route's (|log2 ratio| <= 1). Among those the smallest sum of |log2 ratio| wins;
   ties go to the route listed first in the file, so the choice never flips between runs.
3. Otherwise no route: the decision's default backend.

Why a factor of 2 (DESIGN.md, H100 table): winners hold across shapes that close (Flux 4352
tokens and Qwen-Image 6889 tokens, both 24x128: FA3 for both; classifier-free guidance doubles
batch*heads, 10 -> 20 for SDXL, without changing the kernel that wins), and they change across
shapes that differ more: SDXL (2x10x64, 4096 tokens) is cuDNN's at 0.189 ms against FA3's 0.198,
SD3.5-L (2x38x64, 4250 tokens) is FA3's at 0.741 against cuDNN's 0.878; batch*heads 20 against 76
keeps those two apart. Cross-attention (77 or 256 keys) never borrows from self-attention (4096
keys): SDXL cross is cuDNN at 0.019 ms, FA3 at 0.075. Wan 480p (32760 tokens) does not borrow
from Wan 720p (75600): a shape never measured near anything falls to the default.
"""
import bisect
import math

EXACT = "exact"
NEAR = "near"
DEFAULT = "default"


def _log2_ratio(a, b):
    return abs(math.log2(a / b))


class RouteTable:
    def __init__(self, routes, default_backend):
        self.routes = list(routes)
        self.default_backend = default_backend
        self._exact = {}
        for r in self.routes:
            # A shape listed twice (two workloads share it): the first faster one is kept.
            key = (r.head_dim, r.q_len, r.kv_len, r.batch_heads)
            kept = self._exact.get(key)
            if kept is None or (r.median_ms is not None and kept.median_ms is not None
                                and r.median_ms < kept.median_ms):
                self._exact[key] = r

    def lookup(self, head_dim, q_len, kv_len, batch_heads):
        """Returns (backend id, how, route or None); how is EXACT, NEAR or DEFAULT."""
        r = self._exact.get((head_dim, q_len, kv_len, batch_heads))
        if r is not None:
            return r.backend, EXACT, r
        best, best_distance = None, None
        for r in self.routes:
            if r.head_dim != head_dim:
                continue
            dq = _log2_ratio(q_len, r.q_len)
            dk = _log2_ratio(kv_len, r.kv_len)
            dbh = _log2_ratio(batch_heads, r.batch_heads)
            if dq > 1 or dk > 1 or dbh > 1:
                continue
            distance = dq + dk + dbh
            if best is None or distance < best_distance:
                best, best_distance = r, distance
        if best is not None:
            return best.backend, NEAR, best
        return self.default_backend, DEFAULT, None


def step_index(sigma, schedule):
    """The sampling step a model evaluation at `sigma` belongs to, in `schedule` (the run's
    sigmas, decreasing, steps + 1 of them: ComfyUI's transformer_options["sample_sigmas"]): the
    last i with schedule[i] >= sigma, so that a sampler's evaluations between two sigmas (Heun's
    and DPM-2's midpoints) count as the step they start from. None where the schedule is unusable.
    """
    steps = len(schedule) - 1
    if steps < 1:
        return None
    # Relative slack: the sigma reaches the model through float32 arithmetic (sigma * s_in).
    target = sigma * (1 - 1e-5)
    # Decreasing: count the entries >= target on the negated, increasing list.
    i = bisect.bisect_right([-s for s in schedule], -target) - 1
    return min(max(i, 0), steps - 1)


def is_exact_step(sigma, schedule, exact_steps):
    """Whether the evaluation at `sigma` is in the first or last `exact_steps` steps of the run.
    The first steps lay out the composition and the last the fine detail, where 8-bit attention's
    error shows (SageAttention 3 users run exact attention there: ComfyUI #10076; WanVideoWrapper)."""
    if exact_steps <= 0:
        return False
    i = step_index(sigma, schedule)
    if i is None:
        return False
    return i < exact_steps or i >= len(schedule) - 1 - exact_steps

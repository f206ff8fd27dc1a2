"""decision.py's reader against seeded random input (Debian packages no Python fuzzer: no
atheris; `apt-cache search atheris` finds nothing). Whatever the file holds, load() returns a
Decision or raises DecisionError, never anything else: the node must log it and leave ComfyUI
as it is. DECISION_RANDOM_ITERATIONS sets the count (results/fuzz-2026-12-03.md: 1,000,000 once)."""
import json
import os
import random
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", ".."))
from comfyui_node import decision  # noqa: E402

VALID = {"schema": 1, "tool_version": "0.1.0", "decided_at": "2026-11-25T10:00:00Z", "mechanism": "flash3",
         "source": "tuning", "reason": "tuned", "gpu": {"name": "NVIDIA H100 80GB HBM3"},
         "environment": {"torch": "2.11.0+cu130"}, "default_backend": "flash3",
         "routes": [{"workload": "flux-1024", "batch": 1, "heads": 24, "head_dim": 128, "q_len": 4352,
                     "kv_len": 4352, "backend": "flash3", "median_ms": 0.361}]}
ITERATIONS = int(os.environ.get("DECISION_RANDOM_ITERATIONS", "20000"))


def random_value(rng, depth=0):
    kind = rng.randrange(9 if depth < 3 else 6)
    if kind == 0:
        return None
    if kind == 1:
        return rng.choice([True, False])
    if kind == 2:
        return rng.choice([0, -1, 1, 2 ** 63, -(2 ** 70), rng.randrange(-1000, 1000)])
    if kind == 3:
        return rng.choice([0.0, -0.5, 1e308, float("nan"), float("inf"), rng.random()])
    if kind == 4:
        return "".join(chr(rng.randrange(0, 0x2FFF)) for _ in range(rng.randrange(0, 8)))
    if kind == 5:
        return rng.choice(["", "flash3", "sdpa_cudnn", "\x00", "\ud800"])
    if kind == 6:
        return [random_value(rng, depth + 1) for _ in range(rng.randrange(0, 4))]
    return {random_value(rng, 3) if rng.random() < 0.2 else rng.choice(list(VALID) + ["batch", "heads"]):
            random_value(rng, depth + 1) for _ in range(rng.randrange(0, 4))}


def mutate(rng, doc):
    """The valid document with a few fields, or route fields, replaced or removed."""
    doc = json.loads(json.dumps(doc))
    for _ in range(rng.randrange(1, 4)):
        target = doc
        if rng.random() < 0.5 and isinstance(doc.get("routes"), list) and doc["routes"] and isinstance(doc["routes"][0], dict):
            target = doc["routes"][0]
        key = rng.choice(list(target) or ["schema"])
        if rng.random() < 0.3:
            target.pop(key, None)
        else:
            target[key] = random_value(rng)
    return doc


class RandomDecisionFiles(unittest.TestCase):
    def check_text(self, path, text):
        with open(path, "w", encoding="utf-8", errors="surrogatepass") as f:
            f.write(text)
        try:
            d = decision.load(path)
        except decision.DecisionError:
            return
        self.assertIsInstance(d.gpu_name, str)
        for r in d.routes:
            self.assertGreater(r.batch, 0)

    def test_only_decision_errors(self):
        rng = random.Random(19)
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "decision.json")
            valid_text = json.dumps(VALID)
            self.check_text(path, valid_text)
            for i in range(ITERATIONS):
                choice = i % 4
                if choice == 0:  # a valid document with fields changed
                    doc = mutate(rng, VALID)
                    try:
                        decision.parse(doc, "<random>")
                    except decision.DecisionError:
                        pass
                    continue
                if choice == 1:  # random bytes, as a torn or foreign file
                    raw = bytes(rng.randrange(256) for _ in range(rng.randrange(0, 64)))
                    with open(path, "wb") as f:
                        f.write(raw)
                    try:
                        decision.load(path)
                    except decision.DecisionError:
                        pass
                    continue
                if choice == 2:  # the valid text cut short or with a byte changed
                    cut = valid_text[:rng.randrange(len(valid_text))]
                    pos = rng.randrange(len(valid_text))
                    self.check_text(path, cut if rng.random() < 0.5 else
                                    valid_text[:pos] + chr(rng.randrange(32, 127)) + valid_text[pos + 1:])
                    continue
                self.check_text(path, json.dumps(random_value(rng)))

    def test_deep_nesting_is_a_decision_error(self):
        # json.loads raises RecursionError, not ValueError, on deep nesting (found by this test).
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "decision.json")
            for text in ("[" * 200000, '{"routes": ' * 100000):
                with open(path, "w") as f:
                    f.write(text)
                with self.assertRaises(decision.DecisionError):
                    decision.load(path)


if __name__ == "__main__":
    unittest.main()

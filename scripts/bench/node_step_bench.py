#!/usr/bin/env python3
"""Is the node's routed step as fast as ComfyUI's own paths? Times the routed attention against them
over one sampling step.

    node_step_bench.py --decision FILE --workloads workloads/ --out DIR [options]

For each model (workloads grouped by their "model" field; --models picks them by substring) it
runs one sampling step's attention calls (each workload's shape, calls_per_step times, back to
back, no synchronisation inside the step) through:
  routed             ComfyUI's attention_pytorch with the node's router as
                     optimized_attention_override (what a pod with the node and
                     --use-pytorch-cross-attention runs), ComfyUI with its priority context
  routed_nopriority  the same with ComfyUI's SDPA without the context (recent ComfyUI on Linux;
                     only calls the router leaves to ComfyUI see the difference)
  comfy_pytorch      ComfyUI's attention_pytorch under its sdpa_kernel priority context
                     (CUDNN, FLASH, EFFICIENT, MATH; DESIGN.md)
  comfy_pytorch_nopriority  the same without the context (recent ComfyUI on Linux)
  flag_sage / flag_flash / flag_xformers   ComfyUI's --use-sage-attention, --use-flash-attention
                     and xformers paths, where the library imports
  flag_split / flag_quad  with --slow-flags only (they materialise the score matrix)
GPU time per step comes from CUDA events around the step: a warm-up step per variant, then
--repeats rounds, each running every variant once in a rotating order, so that clock and heat
drift fall on all variants alike; the median per variant. The targets compare variants round by
round (paired_difference): a variant is 'slower' only when the sign test's interval for the
median per-round difference lies wholly above 0. Host time per call, two ways:
  router_us          what routing adds, alone: ComfyUI's wrapper with the router as override,
                     the router's adapters replaced by a function that does nothing, against
                     the same wrapper and function without the override (no GPU work: exact)
  routed/target      the routed call against a direct call of the function it routes to, real
                     kernels, --host-calls calls between two synchronisations (few enough that
                     the launch queue never fills, so the wall time is the host's); 15 rounds
                     in a rotating order, the median of each round's routed - target difference;
                     comfy/comfy_nopriority: ComfyUI's own call

ComfyUI's attention module is the stand-in in tests/node/fake_comfy (same functions, signatures
and call path as ComfyUI's comfy/ldm/modules/attention.py). --cpu --tiny shrinks every shape and
runs on the CPU, for the CI test of this script's logic; with --standins the library stand-ins
of tests/node/standins play flash_attn, flash_attn_interface, sageattention and xformers.

Writes DIR/step_gpu.csv, DIR/host_overhead.csv, DIR/numerics.csv and DIR/summary.md.
"""
import argparse
import csv
import glob
import json
import math
import os
import statistics
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
HOST_TARGET_US = 10.0


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[1].strip(),
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--decision", required=True, help="decision file written by autotune")
    p.add_argument("--workloads", required=True, help="directory of workload catalogue files (*.json)")
    p.add_argument("--out", required=True, help="directory for the CSV and markdown results")
    p.add_argument("--models", default="SDXL @1024,Flux.1 dev @1024,480p",
                   help="comma-separated substrings of the workloads' model names [%(default)s]")
    p.add_argument("--repeats", type=int, default=9,
                   help="rounds, each timing one step of every variant [%(default)s; 9 give a 96%% interval]")
    p.add_argument("--host-calls", type=int, default=30, help="calls per host-time sample [%(default)s]")
    p.add_argument("--dtype", choices=("bf16", "fp16", "fp32"), default="bf16")
    p.add_argument("--slow-flags", action="store_true", help="also time split and sub-quadratic attention")
    p.add_argument("--no-staleness-check", action="store_true",
                   help="use the decision even if made for another GPU or torch")
    p.add_argument("--cpu", action="store_true", help="run on the CPU (wall-clock timers)")
    p.add_argument("--tiny", action="store_true", help="shrink every shape (and the routes) for a quick check")
    p.add_argument("--standins", action="store_true", help="use the library stand-ins of tests/node/standins")
    return p.parse_args(argv)


def tiny_shape(w):
    """Same head_dim and batch, 2 heads, sequence lengths / 64: bucketing relations survive."""
    w = dict(w)
    w["heads"] = min(w["heads"], 2)
    w["q_len"] = max(1, w["q_len"] // 64)
    w["kv_len"] = max(1, w["kv_len"] // 64)
    if "calls_per_step" in w:
        w["calls_per_step"] = min(w["calls_per_step"], 3)
    return w


def load_workloads(directory, patterns):
    groups = {}
    files = sorted(glob.glob(os.path.join(directory, "*.json")))
    if not files:
        raise SystemExit("no *.json workload files in {}".format(directory))
    for path in files:
        with open(path) as f:
            doc = json.load(f)
        items = doc["workloads"] if isinstance(doc, dict) else doc
        for w in items:
            missing = [k for k in ("id", "model", "batch", "heads", "head_dim", "q_len", "kv_len", "layout",
                                   "calls_per_step") if k not in w]
            if missing:
                raise SystemExit("{}: workload {!r} lacks {}".format(path, w.get("id"), ", ".join(missing)))
            if w["layout"] not in ("bhld", "blhd_flat"):
                raise SystemExit("{}: workload {!r} has layout {!r}, expected bhld or blhd_flat".format(
                    path, w["id"], w["layout"]))
            if any(p in w["model"] for p in patterns):
                groups.setdefault(w["model"], []).append(w)
    if not groups:
        raise SystemExit("no workload's model matches any of {} in {}".format(patterns, directory))
    return groups


class Timer:
    """CUDA events on the current stream, or wall time on the CPU."""

    def __init__(self, torch, cuda):
        self.torch, self.cuda = torch, cuda

    def mark(self):
        if self.cuda:
            e = self.torch.cuda.Event(enable_timing=True)
            e.record()
            return e
        return time.perf_counter()

    def ms(self, a, b):
        return a.elapsed_time(b) if self.cuda else (b - a) * 1e3

    def sync(self):
        if self.cuda:
            self.torch.cuda.synchronize()


def main(argv=None):
    args = parse_args(argv)
    sys.path[:0] = [REPO, os.path.join(REPO, "tests", "node", "fake_comfy")] + (
        [os.path.join(REPO, "tests", "node", "standins")] if args.standins else [])
    import torch
    # The node's package before comfy: imported with comfy loaded, it would install itself.
    from comfyui_node import decision as decision_mod
    from comfyui_node.hook import build_router
    from comfyui_node.router import Router
    import comfy.ldm.modules.attention as attention
    import comfy.ops

    cuda = not args.cpu
    if cuda and not torch.cuda.is_available():
        raise SystemExit("no CUDA device; use --cpu for a CPU run")
    device = "cuda" if cuda else "cpu"
    dtype = {"bf16": torch.bfloat16, "fp16": torch.float16, "fp32": torch.float32}[args.dtype]
    if args.cpu and args.dtype != "fp32":
        dtype = torch.float32  # CPU matmuls in half precision are slow or missing in old torch

    if cuda:
        # torch 2.11 (cuDNN 9.19, H100) settles its default SDPA order, cuDNN first on sm90/sm100,
        # at its first SDPA call, unless a priority was set before that call: after one priority
        # context had run first, its own pick for Flux stayed FlashAttention-2 for the whole
        # process (scripts/research/sdpa_state_probe.py). ComfyUI on Linux makes its first call without a
        # context; so does this script, before any variant runs.
        x = torch.randn(1, 1, 64, 64, device=device, dtype=dtype)
        torch.nn.functional.scaled_dot_product_attention(x, x, x)

    dec = decision_mod.load(args.decision)
    if cuda:
        device_name = torch.cuda.get_device_name(torch.cuda.current_device())
        stale = decision_mod.staleness(dec, device_name, torch.__version__)
        if stale and not args.no_staleness_check:
            raise SystemExit(stale + " (pass --no-staleness-check to time it anyway)")
    else:
        device_name = "cpu"
    if args.tiny:
        for r in dec.routes:
            t = tiny_shape(vars_of(r))
            r.heads, r.q_len, r.kv_len = t["heads"], t["q_len"], t["kv_len"]
    router = build_router(dec, attention)
    # The router's own cost: the same table, every adapter a function that does nothing.
    noop = lambda *a, **kw: None  # noqa: E731
    noop_router = Router(router.table, {b: noop for b in router.adapters}, router.unavailable,
                         exact_steps=router.exact_steps)
    noop_wrapped = attention.wrap_attn(noop)
    noop_options = {"optimized_attention_override": noop_router}

    groups = load_workloads(args.workloads, [s.strip() for s in args.models.split(",") if s.strip()])
    variants = [("routed", attention.attention_pytorch, True, True),
                ("routed_nopriority", attention.attention_pytorch, True, False),
                ("comfy_pytorch", attention.attention_pytorch, False, True),
                ("comfy_pytorch_nopriority", attention.attention_pytorch, False, False)]
    for flag, fn, available in (("flag_sage", attention.attention_sage, attention.SAGE_ATTENTION_IS_AVAILABLE),
                                ("flag_flash", attention.attention_flash, attention.FLASH_ATTENTION_IS_AVAILABLE),
                                ("flag_xformers", attention.attention_xformers, attention.XFORMERS_IS_AVAILABLE)):
        if available:
            variants.append((flag, fn, False, True))
    if args.slow_flags:
        variants += [("flag_split", attention.attention_split, False, True),
                     ("flag_quad", attention.attention_sub_quad, False, True)]

    timer = Timer(torch, cuda)
    os.makedirs(args.out, exist_ok=True)
    gpu_rows, host_rows, num_rows = [], [], []
    rounds = {}  # model -> variant -> step time of each round, in round order (paired across variants)
    torch.manual_seed(0)
    for model, workloads in groups.items():
        if args.tiny:
            workloads = [tiny_shape(w) for w in workloads]
        calls = []
        for w in workloads:
            b, h, d = w["batch"], w["heads"], w["head_dim"]
            if w["layout"] == "bhld":
                mk = lambda n: torch.randn(b, h, n, d, device=device, dtype=dtype)  # noqa: E731
                kw = {"skip_reshape": True}
            else:
                mk = lambda n: torch.randn(b, n, h * d, device=device, dtype=dtype)  # noqa: E731
                kw = {}
            calls.append((w, mk(w["q_len"]), mk(w["kv_len"]), mk(w["kv_len"]), kw))

        def step(variant, marks=None):
            _, fn, routed, priority = variant
            comfy.ops.set_priority_context(priority)
            options = {"optimized_attention_override": router} if routed else {}
            for w, q, k, v, kw in calls:
                for _ in range(w["calls_per_step"]):
                    fn(q, k, v, w["heads"], transformer_options=options, **kw)
                if marks is not None:
                    marks.append(timer.mark())

        for variant in variants:
            step(variant)  # warm-up: module loading, cuDNN plans, Triton compilation
        timer.sync()
        per_workload = {v[0]: [[] for _ in calls] for v in variants}
        totals = {v[0]: [] for v in variants}
        for r in range(args.repeats):
            for i in range(len(variants)):
                variant = variants[(r + i) % len(variants)]
                marks = [timer.mark()]
                step(variant, marks)
                timer.sync()
                totals[variant[0]].append(timer.ms(marks[0], marks[-1]))
                for j in range(len(calls)):
                    per_workload[variant[0]][j].append(timer.ms(marks[j], marks[j + 1]))
        for name, *_ in variants:
            for (w, *_), samples in zip(calls, per_workload[name]):
                gpu_rows.append({"model": model, "workload": w["id"], "variant": name,
                                 "calls_per_step": w["calls_per_step"],
                                 "ms_per_step": round(statistics.median(samples), 4),
                                 "ms_per_call": round(statistics.median(samples) / w["calls_per_step"], 5),
                                 "iqr_pct": iqr_pct(samples)})
            gpu_rows.append({"model": model, "workload": "(step)", "variant": name,
                             "calls_per_step": sum(w["calls_per_step"] for w, *_ in calls),
                             "ms_per_step": round(statistics.median(totals[name]), 4), "ms_per_call": "",
                             "iqr_pct": iqr_pct(totals[name])})
        rounds[model] = totals

        comfy.ops.set_priority_context(True)
        options = {"optimized_attention_override": router}
        for w, q, k, v, kw in calls:
            attention.attention_pytorch(q, k, v, w["heads"], transformer_options=options, **kw)
            fn_target, stat = router.route_of(q, k, w["heads"], kw.get("skip_reshape", False))
            target = fn_target or attention.attention_pytorch.__wrapped__
            inside = dict(kw, transformer_options=options, _inside_attn_wrapper=True)

            def per_call_us(f, n, priority=True):
                comfy.ops.set_priority_context(priority)  # outside the timed loop
                timer.sync()
                t0 = time.perf_counter()
                for _ in range(n):
                    f()
                t1 = time.perf_counter()
                timer.sync()
                return (t1 - t0) / n * 1e6

            def comfy_call():
                attention.attention_pytorch(q, k, v, w["heads"], transformer_options={}, **kw)
            fns = {"routed": lambda: attention.attention_pytorch(q, k, v, w["heads"], transformer_options=options,
                                                                 **kw),
                   "target": lambda: target(q, k, v, w["heads"], **inside),
                   "comfy": comfy_call,
                   "comfy_nopriority": comfy_call,
                   "noop_routed": lambda: noop_wrapped(q, k, v, w["heads"], transformer_options=noop_options, **kw),
                   "noop_plain": lambda: noop_wrapped(q, k, v, w["heads"], transformer_options={}, **kw)}
            us = {fn_name: [] for fn_name in fns}
            order = list(fns)
            for i in range(15):  # interleaved in a rotating order, so that drift hits all alike
                for fn_name in order[i % len(order):] + order[:i % len(order)]:
                    us[fn_name].append(per_call_us(fns[fn_name], 200 if fn_name.startswith("noop") else args.host_calls,
                                                   priority=fn_name != "comfy_nopriority"))
            comfy.ops.set_priority_context(True)
            med = {fn_name: statistics.median(v) for fn_name, v in us.items()}

            def added(a, b):  # median of the paired differences of one round's samples
                return statistics.median(x - y for x, y in zip(us[a], us[b]))
            host_rows.append({"model": model, "workload": w["id"], "route": stat,
                              "router_us": round(added("noop_routed", "noop_plain"), 2),
                              "host_us_routed": round(med["routed"], 2), "host_us_target": round(med["target"], 2),
                              "overhead_us": round(added("routed", "target"), 2),
                              "host_us_comfy": round(med["comfy"], 2),
                              "host_us_comfy_nopriority": round(med["comfy_nopriority"], 2)})

            ref = attention.attention_pytorch(q, k, v, w["heads"], transformer_options={}, **kw).float()
            out = attention.attention_pytorch(q, k, v, w["heads"], transformer_options=options, **kw).float()
            rel = ((out - ref).norm() / ref.norm().clamp_min(1e-30)).item()
            num_rows.append({"model": model, "workload": w["id"], "route": stat,
                             "max_abs_diff": "{:.3e}".format((out - ref).abs().max().item()),
                             "rel_l2_diff": "{:.3e}".format(rel), "finite": bool(torch.isfinite(out).all())})
        del calls
        if cuda:
            torch.cuda.empty_cache()

    write_csv(os.path.join(args.out, "step_gpu.csv"), gpu_rows)
    write_csv(os.path.join(args.out, "host_overhead.csv"), host_rows)
    write_csv(os.path.join(args.out, "numerics.csv"), num_rows)
    summary = summarize(args, dec, device_name, torch.__version__, router, gpu_rows, host_rows, num_rows, rounds)
    with open(os.path.join(args.out, "summary.md"), "w") as f:
        f.write(summary)
    print(summary)
    return 0


def sign_interval(n):
    """(k, confidence) for n paired differences: the k-th smallest and the k-th largest bound their
    median with that confidence (the sign test's interval), k as large as 95% allows; with fewer
    than 6 rounds none reaches 95%, and k = 1 (the smallest and the largest)."""
    outside = [min(1.0, 2 * sum(math.comb(n, i) for i in range(k)) / 2 ** n) for k in range((n + 1) // 2 + 1)]
    k = max([1] + [k for k in range(1, (n + 1) // 2 + 1) if outside[k] <= 0.05])
    return k, 1 - outside[k]


def paired_difference(a, b):
    """How much longer a took than b, from rounds that timed both (a[i] and b[i] in round i, so
    that clock drift hits both alike): the median of the per-round ratios a[i] / b[i] - 1 and its
    sign_interval. Returns (median, low, high, confidence)."""
    if len(a) != len(b) or not a:
        raise ValueError("paired_difference needs rounds of both, {} and {} given".format(len(a), len(b)))
    d = sorted(x / y - 1 for x, y in zip(a, b))
    k, confidence = sign_interval(len(d))
    return statistics.median(d), d[k - 1], d[len(d) - k], confidence


def verdict(diff):
    """'slower' or 'faster' when the whole interval of paired_difference lies on one side of 0."""
    _, low, high, _ = diff
    return "slower" if low > 0 else "faster" if high < 0 else "same within noise"


def format_difference(diff):
    med, low, high, _ = diff
    return "{:+.1%} [{:+.1%}, {:+.1%}]".format(med, low, high)


def iqr_pct(samples):
    """Interquartile range over the median, in percent: the noise of a variant's steps."""
    if len(samples) < 4:
        return ""
    q = statistics.quantiles(samples, n=4)
    return round((q[2] - q[0]) / statistics.median(samples) * 100, 2)


def vars_of(route):
    return {s: getattr(route, s) for s in route.__slots__}


def write_csv(path, rows):
    with open(path, "w", newline="") as f:
        if rows:
            writer = csv.DictWriter(f, fieldnames=list(rows[0]))
            writer.writeheader()
            writer.writerows(rows)


def summarize(args, dec, device_name, torch_version, router, gpu_rows, host_rows, num_rows, rounds):
    lines = ["# Node step benchmark", "",
             "Device: {}; torch {}; dtype {}; {} timed steps per variant{}.".format(
                 device_name, torch_version, args.dtype if not args.cpu else "fp32", args.repeats,
                 " (CPU, tiny shapes: checks the logic, not the targets)" if args.tiny or args.cpu else ""),
             "Decision: {} ({}, default {}, {} routes).".format(dec.path, dec.source, dec.default_backend,
                                                               len(dec.routes)),
             "Routes not available here: {}.".format(
                 "; ".join("{} ({})".format(k, v) for k, v in router.unavailable.items()) or "none"),
             "", "## GPU time per sampling step (ms, median; in brackets the interquartile range over the median)",
             ""]
    steps = [r for r in gpu_rows if r["workload"] == "(step)"]
    variants = list(dict.fromkeys(r["variant"] for r in steps))
    lines.append("| model | " + " | ".join(variants) + " |")
    lines.append("|---" * (len(variants) + 1) + "|")
    for model in dict.fromkeys(r["model"] for r in steps):
        t = {r["variant"]: r["ms_per_step"] for r in steps if r["model"] == model}
        iqr = {r["variant"]: r["iqr_pct"] for r in steps if r["model"] == model}
        lines.append("| {} | {} |".format(
            model, " | ".join("{:.3f} ({}%)".format(t[v], iqr[v]) if v in t else "-" for v in variants)))
    lines += ["", "Paired by round: the median of the per-round differences, in brackets an interval holding "
              "the true median with {:.0%} confidence (sign test); 'slower' only when all of it lies above "
              "0.".format(sign_interval(args.repeats)[1]), "",
              "| model | comparison | difference | verdict |", "|---|---|---|---|"]
    verdicts = []
    for model, r in rounds.items():
        # The node's targets: the routed step against ComfyUI's default path (with and without its
        # priority context) and against the best single flag (fastest median; comfy_pytorch is
        # --use-pytorch-cross-attention). Each comparison more is one more chance of a false
        # 'slower' at the interval's confidence.
        flags = {v: statistics.median(x) for v, x in r.items() if not v.startswith("routed")}
        best = min(flags, key=flags.get)
        pairs = [("routed", "comfy_pytorch"), ("routed_nopriority", "comfy_pytorch_nopriority"),
                 ("routed", best), ("routed_nopriority", best)]
        slower = []
        for routed, other in dict.fromkeys(pairs):
            diff = paired_difference(r[routed], r[other])
            said = verdict(diff)
            lines.append("| {} | {} against {} | {} | {} |".format(model, routed, other, format_difference(diff),
                                                                   said))
            if said == "slower":
                slower.append("{} against {}".format(routed, other))
        verdicts.append((model, slower))
    lines += ["", "## Host time per call (us)", "",
              "router: what routing adds, measured alone (no-op adapters, see the script's doc); routed and "
              "target: the routed call and a direct call of its target with real kernels; comfy: ComfyUI's "
              "PyTorch path with and without its priority context.", "",
              "| model | workload | route | router | routed | target | routed - target | comfy | comfy, no priority |",
              "|---|---|---|---|---|---|---|---|---|"]
    for r in host_rows:
        lines.append("| {model} | {workload} | {route} | {router_us} | {host_us_routed} | {host_us_target} | "
                     "{overhead_us} | {host_us_comfy} | {host_us_comfy_nopriority} |".format(**r))
    lines += ["", "## Numerics: routed output against comfy_pytorch's", "",
              "| model | workload | route | max abs diff | relative L2 | finite |", "|---|---|---|---|---|---|"]
    for r in num_rows:
        lines.append("| {model} | {workload} | {route} | {max_abs_diff} | {rel_l2_diff} | {finite} |".format(**r))
    worst = max((r["router_us"] for r in host_rows), default=0.0)
    worst_e2e = max((r["overhead_us"] for r in host_rows), default=0.0)
    lines += ["", "## Targets: routed no slower", ""]
    yes = {True: "yes", False: "NO"}
    for model, slower in verdicts:
        lines.append("- {}: routed no slower than ComfyUI's PyTorch path and the best single flag timed, with "
                     "and without the priority context: {}".format(model, "yes" if not slower else
                                                               "NO, slower: " + "; ".join(slower)))
    lines.append("- host time routing adds, worst workload: {:.2f} us alone (target <= {:.0f} us): {}; "
                 "routed - target with real kernels, worst: {:.2f} us".format(
                     worst, HOST_TARGET_US, yes[worst <= HOST_TARGET_US], worst_e2e))
    lines += ["", "Router counters: " + router.summary(), ""]
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())

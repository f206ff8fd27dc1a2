#!/usr/bin/env python3
"""Does the pod get fast for a model outside the tuned set, without a restart?

    seen_step_bench.py --comfyui DIR --decision FILE --tune CMD --out DIR [--beside CMD] [options]

The node's whole loop, with real ComfyUI model code (scripts/bench/model_step_bench.py builds it):
1. before: the node is installed as ComfyUI loads it (comfyui_node.hook.install, with ComfyUI's
   own attention module and ModelPatcher) on the decision FILE; one sampling step (a model
   evaluation, as comfy/samplers.py runs it: ModelPatcher.prepare_state, then the model with the
   patcher's transformer_options) runs as a prompt, so the node records the shapes it saw into
   the shapes file beside FILE. Then --repeats rounds of ComfyUI's default against the node.
2. tune: CMD (`autotune ... tune --seen`, what pod_start.sh's watcher runs) tunes the recorded
   shapes and rewrites FILE; its wall time.
3. beside (with --beside CMD, e.g. a cold first-boot tune into scratch directories): ComfyUI's
   default steps while CMD runs, against the same steps alone: what a tune costs a prompt that
   runs beside it. With --beside-marker FILE each step is a prompt as the node runs it: the
   node's prompt marker (comfyui_node/busy.py) at FILE while it runs, then --beside-gap-s of
   idle time (a user between prompts) in which the tune goes on; CMD's tune waits while the
   marker is there (common/prompt_marker.h), so FILE must be the marker beside CMD's decision file.
4. after: the next prompt; the node reloads FILE at the prompt's start (seen.Reloader), and its
   log line says what changed. Then --repeats rounds of default against the node again.
The prompt boundary is a minimal executor with PromptExecutor.execute_async's name, which the
node wraps (seen.wrap_executor); the real PromptExecutor's wrapping is tested in CI
(tests/node/test_real_comfyui.py). Rounds rotate the configurations' order; CUDA events time
each step (wall time with --cpu).

--cpu --tiny: the same classes, tiny, fp32, on the CPU, for the CI test of this script's logic
(tests/scripts/test_seen_step_bench.py); --device-name names the decision's GPU there.

Writes DIR/seen_step.json and DIR/seen_step.md and prints the summary.
"""
import argparse
import asyncio
import json
import logging
import os
import shlex
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)
import model_step_bench as msb  # noqa: E402


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0].strip(),
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--comfyui", required=True, help="an unpacked ComfyUI source tree (the folder holding comfy/)")
    p.add_argument("--comfyui-commit", default=None, help="ComfyUI's commit for the report")
    p.add_argument("--decision", required=True, help="the decision file the node starts with (rewritten by --tune)")
    p.add_argument("--tune", required=True, help="the command that tunes the recorded shapes, e.g. "
                                                 "'autotune --decision-file FILE ... tune --seen'")
    p.add_argument("--beside", help="a command to run while default steps are timed (a tune's cost to a prompt)")
    p.add_argument("--beside-marker", help="the prompt marker of --beside's decision file, written around each "
                                           "step (the node's, comfyui_node/busy.py)")
    p.add_argument("--beside-gap-s", type=float, default=1.5,
                   help="idle seconds after each step with --beside-marker [%(default)s]")
    p.add_argument("--model", default="wan13b720", help="one of {} [%(default)s]".format(", ".join(msb.SPECS)))
    p.add_argument("--repeats", type=int, default=3, help="timed rounds before and after [%(default)s]")
    p.add_argument("--out", required=True, help="directory for seen_step.json and seen_step.md")
    p.add_argument("--init-std", type=float, default=0.02, help="std of the random weights [%(default)s]")
    p.add_argument("--cpu", action="store_true", help="run on the CPU in fp32 (wall-clock timers)")
    p.add_argument("--tiny", action="store_true", help="tiny widths, depths and latents, same classes")
    p.add_argument("--device-name", help="the GPU name the decision must match [the CUDA device's]")
    args = p.parse_args(argv)
    if args.model not in msb.SPECS:
        p.error("--model: unknown {!r} (known: {})".format(args.model, ", ".join(msb.SPECS)))
    if args.repeats < 1:
        p.error("--repeats must be at least 1, got {}".format(args.repeats))
    if not os.path.isdir(os.path.join(args.comfyui, "comfy")):
        p.error("--comfyui {}: no comfy/ folder there".format(args.comfyui))
    if not os.path.isfile(args.decision):
        p.error("--decision {}: no such file".format(args.decision))
    return args


class Executor:
    """The prompt boundary the node wraps: ComfyUI's PromptExecutor.execute_async, reduced to
    running one piece of work."""

    async def execute_async(self, work):
        return work()


class Lines(logging.Handler):
    def __init__(self):
        super().__init__()
        self.lines = []

    def emit(self, record):
        line = record.getMessage()
        self.lines.append(line)
        print("[node] " + line, flush=True)


def run_command(cmd, log_path):
    with open(log_path, "w") as log:
        t0 = time.perf_counter()
        rc = subprocess.run(shlex.split(cmd), stdout=log, stderr=subprocess.STDOUT).returncode
        return rc, time.perf_counter() - t0


def main(argv=None):
    args = parse_args(argv)
    sys.path[:0] = [REPO, os.path.abspath(args.comfyui)]
    import torch
    import comfy.options  # noqa: F401
    import comfy.cli_args
    if args.cpu:
        comfy.cli_args.args.cpu = True
    import comfy.model_management  # noqa: F401
    import comfy.model_patcher
    import comfy.ops
    import comfy.ldm.modules.attention as attention
    from comfyui_node import busy, hook, seen

    cuda = not args.cpu
    if cuda and not torch.cuda.is_available():
        raise SystemExit("no CUDA device; use --cpu --tiny for a CPU run")
    device = torch.device("cuda") if cuda else torch.device("cpu")
    dtype = torch.bfloat16 if cuda else torch.float32
    os.makedirs(args.out, exist_ok=True)

    logger = logging.getLogger("seen_step_bench")
    logger.setLevel(logging.INFO)
    logger.propagate = False
    lines = Lines()
    logger.addHandler(lines)
    executor_cls = type("PromptExecutor", (Executor,), {})
    router = hook.install(attention=attention, patcher_cls=comfy.model_patcher.ModelPatcher,
                          environ={"COMFYUI_ATTENTION_DECISION": os.path.abspath(args.decision)},
                          device_name=args.device_name, logger=logger, executor_cls=executor_cls)
    if router is None:
        raise SystemExit("the node stayed inert: " + (lines.lines[-1] if lines.lines else "no reason logged"))
    shapes_file = seen.seen_path(os.path.abspath(args.decision))
    executor = executor_cls()

    torch.manual_seed(0)
    model, make_inputs, batch, _ = msb.build_model(torch, args.model, args.tiny, device, dtype,
                                                   comfy.ops.disable_weight_init, args.init_std)
    inputs = make_inputs(torch, device, dtype, batch)
    patcher = comfy.model_patcher.ModelPatcher(model, load_device=device, offload_device=device)
    timestep = inputs.get("timestep", inputs.get("timesteps"))
    timer = msb.Timer(torch, cuda)

    def default_step():
        return model(**inputs, transformer_options={})

    def node_step():
        patcher.prepare_state(timestep)  # comfy/samplers.py before each model evaluation
        return model(**inputs, transformer_options=patcher.model_options["transformer_options"].copy())

    def prompt(work):
        return asyncio.run(executor.execute_async(work))

    def timed(fn):
        a = timer.mark()
        out = fn()
        b = timer.mark()
        timer.sync()
        return timer.ms(a, b) / 1e3, out

    def rounds(tag):
        configs = {"default": default_step, "node": lambda: prompt(node_step)}
        times = {c: [] for c in configs}
        for r in range(args.repeats):
            for c in msb.rotation(list(configs), r):
                times[c].append(timed(configs[c])[0])
        s = msb.summarize_rounds(times)
        print("[seen_step_bench] {}: default {:.4f} s, node {:.4f} s per step: x{:.3f}".format(
            tag, s["default"]["median_s"], s["node"]["median_s"], s["node"]["speedup"]), flush=True)
        return {"times_s": times, "summary": s}

    def counted_prompt():
        router.reset_stats()
        out = prompt(node_step)
        return dict(router.stats), out

    result = {"model": args.model, "batch": batch, "decision": os.path.abspath(args.decision),
              "shapes_file": shapes_file, "info": msb.machine_info(torch, cuda, args)}
    with torch.inference_mode():
        reference = default_step().float()
        result["before_counters"], out = counted_prompt()
        result["before_rel_diff"] = msb.relative_difference(torch, out, reference)
        result["before"] = rounds("before the tune")
    result["shapes_recorded"] = json.load(open(shapes_file)) if os.path.exists(shapes_file) else None

    rc, wall = run_command(args.tune, os.path.join(args.out, "tune.log"))
    result["tune"] = {"command": args.tune, "rc": rc, "wall_s": round(wall, 3)}
    print("[seen_step_bench] tune: rc {} in {:.1f} s".format(rc, wall), flush=True)

    if args.beside:
        with torch.inference_mode():
            alone = [timed(default_step)[0] for _ in range(args.repeats)]
            log = open(os.path.join(args.out, "beside.log"), "w")
            t0 = time.perf_counter()
            proc = subprocess.Popen(shlex.split(args.beside), stdout=log, stderr=subprocess.STDOUT)
            during = []
            marker = busy.PromptMarker(args.beside_marker) if args.beside_marker else None
            while proc.poll() is None:
                if marker is None:
                    during.append(timed(default_step)[0])
                    continue
                marker.start()
                try:
                    during.append(timed(default_step)[0])
                finally:
                    marker.end()
                time.sleep(args.beside_gap_s)
            beside_wall = time.perf_counter() - t0
            log.close()
        result["beside"] = {"command": args.beside, "rc": proc.returncode, "wall_s": round(beside_wall, 3),
                            "marker": args.beside_marker, "gap_s": args.beside_gap_s if args.beside_marker else None,
                            "alone_s": alone, "during_s": during,
                            "alone_median_s": statistics.median(alone),
                            "during_median_s": statistics.median(during) if during else None}
        if during:
            print("[seen_step_bench] beside a tune ({:.1f} s): {} steps, median {:.4f} s against {:.4f} s alone".format(
                beside_wall, len(during), statistics.median(during), statistics.median(alone)), flush=True)

    reloads_before = len([x for x in lines.lines if "reloaded" in x])
    with torch.inference_mode():
        result["after_counters"], out = counted_prompt()
        result["after_rel_diff"] = msb.relative_difference(torch, out, reference)
        result["after"] = rounds("after the tune and the reload")
    result["reload_lines"] = [x for x in lines.lines if "reloaded" in x][reloads_before:]
    result["node_log"] = lines.lines
    with open(os.path.join(args.out, "seen_step.json"), "w") as f:
        json.dump(result, f, indent=1, default=str)
    text = report(result)
    with open(os.path.join(args.out, "seen_step.md"), "w") as f:
        f.write(text)
    print(text)
    patcher = None  # detached while ComfyUI's modules still exist (its __del__ needs them)
    return 0


def report(r):
    b, a = r["before"]["summary"], r["after"]["summary"]
    info = r["info"]
    lines = ["# One sampling step of {} (batch {}) before and after the node's own tune".format(r["model"], r["batch"]),
             "",
             "- GPU {}, driver {}, torch {}, ComfyUI {}".format(info.get("gpu"), info.get("driver"), info.get("torch"),
                                                              info.get("comfyui_commit")),
             "- decision {}; shapes file {}".format(r["decision"], r["shapes_file"]),
             "",
             "| | default s/step | node s/step | node speedup | router counters (one step) | rel diff vs default |",
             "|---|---|---|---|---|---|"]
    for tag, s, counters, rel in (("before the tune", b, r["before_counters"], r["before_rel_diff"]),
                                  ("after tune and reload", a, r["after_counters"], r["after_rel_diff"])):
        lines.append("| {} | {:.4f} | {:.4f} | {:.3f}x | {} | {:.2e} |".format(
            tag, s["default"]["median_s"], s["node"]["median_s"], s["node"]["speedup"],
            "; ".join("{} {}".format(k, v) for k, v in sorted(counters.items())), rel))
    t = r["tune"]
    lines += ["", "- tune of the recorded shapes: `{}`: rc {}, {:.1f} s".format(t["command"], t["rc"], t["wall_s"])]
    lines.append("- reload: " + ("; ".join(r["reload_lines"]) or "NONE"))
    shapes = (r.get("shapes_recorded") or {}).get("shapes") or []
    lines.append("- recorded shapes: " + "; ".join(
        "{}x{}x{} q{} kv{} {} ({} calls/step)".format(s["batch"], s["heads"], s["head_dim"], s["q_len"], s["kv_len"],
                                                      s["dtype"], s["calls_per_step"]) for s in shapes))
    if "beside" in r:
        x = r["beside"]
        if x["during_median_s"]:
            lines.append("- a step beside `{}` (rc {}, {:.1f} s{}): median {:.4f} s, worst {:.4f} s over {} steps, "
                         "alone {:.4f} s: {:+.1f}%".format(
                             x["command"], x["rc"], x["wall_s"],
                             "; each step a prompt with the marker {}, {:.1f} s apart".format(x["marker"], x["gap_s"])
                             if x.get("marker") else "; steps back to back, no marker",
                             x["during_median_s"], max(x["during_s"]), len(x["during_s"]), x["alone_median_s"],
                             100 * (x["during_median_s"] / x["alone_median_s"] - 1)))
    speed = a["node"]["speedup"]
    lines += ["", "Acceptance: after the reload {:.3f}x ComfyUI's default per step (target >= 1.15x: {})".format(
        speed, "yes" if speed >= 1.15 else "NO"), ""]
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())

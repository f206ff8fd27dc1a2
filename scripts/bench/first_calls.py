"""Question: where do FlashAttention-3's and SageAttention's first calls in a process spend their
time, and do the two overlap when made from two Python threads at once?

The worker warms each Python library up before measuring it (worker/python_env.cpp `warm`), one
after the other: on the H200 FA3's first call took 4.9-7.3 s and Sage's 2.3-2.5 s of a cold
default-set tune (results/h200-2026-12-03-quality). Run each mode in a fresh process:

  python3 first_calls.py profile   # cProfile of each first call, the 20 costliest by cumulative time
  python3 first_calls.py serial    # FA3's first call, then Sage's: wall time of each
  python3 first_calls.py threads   # both at once, one thread each: wall time of the pair

Prints `seconds <what> <s>` lines; the last line is `total <s>`.
"""
import cProfile
import io
import pstats
import sys
import threading
import time

t_start = time.time()


def say(what, s):
    print("seconds %s %.3f" % (what, s), flush=True)


t = time.time()
import torch  # noqa: E402

say("import torch", time.time() - t)
t = time.time()
torch.zeros(1, device="cuda")
torch.cuda.synchronize()
say("CUDA init", time.time() - t)
t = time.time()
import flash_attn_interface  # noqa: E402

say("import flash_attn_interface", time.time() - t)
t = time.time()
import sageattention  # noqa: E402

say("import sageattention", time.time() - t)


def inputs(blhd):
    shape = (1, 256, 24, 128) if blhd else (1, 24, 256, 128)
    return [torch.randn(shape, dtype=torch.bfloat16, device="cuda") for _ in range(3)]


def flash3():
    q, k, v = inputs(True)
    flash_attn_interface.flash_attn_func(q, k, v)
    torch.cuda.synchronize()


def sage():
    q, k, v = inputs(False)
    sageattention.sageattn(q, k, v, tensor_layout="HND")
    torch.cuda.synchronize()


def timed(name, fn):
    t = time.time()
    fn()
    say(name, time.time() - t)


mode = sys.argv[1] if len(sys.argv) > 1 else "serial"
if mode == "profile":
    for name, fn in (("flash3", flash3), ("sage", sage)):
        prof = cProfile.Profile()
        t = time.time()
        prof.runcall(fn)
        say(name + " first call (profiled)", time.time() - t)
        text = io.StringIO()
        pstats.Stats(prof, stream=text).sort_stats("cumulative").print_stats(20)
        print(text.getvalue(), flush=True)
        timed(name + " second call", fn)
elif mode == "serial":
    timed("flash3 first call", flash3)
    timed("sage first call", sage)
elif mode == "threads":
    t = time.time()
    threads = [threading.Thread(target=timed, args=(name + " first call, in a thread", fn))
               for name, fn in (("flash3", flash3), ("sage", sage))]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    say("both first calls, two threads", time.time() - t)
else:
    sys.exit("unknown mode %r: profile, serial or threads" % mode)
print("total %.3f" % (time.time() - t_start))

#!/usr/bin/env python3
"""What MooseFS does differently from a local disk, one check per behaviour (the design's
reasoning: cache/README.md, "On a real MooseFS"). Run by CTest (test `cache_moosefs_behaviour`).

One MooseFS, 4 client mounts (tests/cache/moosefs.py): mounts 0 and 1 with mfsmount's default
caches, as RunPod mounts them; mounts 2 and 3 with longer ones (mfsentrycacheto=5,
mfsattrcacheto=5, mfsdirentrycacheto=5), to make visible what a client cache does to the cache.

  default   a rename, unlink, link() or rename-over through one mount is seen at once through the
            other (by name, in its listing, content and size); link() to a name the other mount
            just made fails with EEXIST, so a lease generation has one winner.
  long      link() still has one winner; a new name is seen at once (no negative entry cache),
            and so is a rename in the listing; but an unlinked name still opens, and a
            rename-over reads the old content with the old size, for the cache's timeout. None of
            it may matter to the cache: published files never change after their rename. A
            stale name that another mount renamed away fails to rename with ENOENT (read_one
            takes that as "another pod set it aside first"), and is gone afterwards.
  setaside  a damaged published file of the key, which a boot through b had listed and opened
            just before, set aside by another pod: the boot through b is a hit and does not warn.
  cache     the cache's own code across the two long-cache mounts: cache_torture_driver processes
            killed with -9 while they commit, publish and compact, and concurrent boots (leases,
            waits, publishes); every published file passes integrity_check, nothing logged as
            published is lost, no boot or driver warned (torture.py's kills and boots parts).

Exits 77 (CTest: skipped) with the reason where MooseFS, FUSE or namespaces are missing; 1 on any
failed check."""
import argparse
import errno
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import types

import moosefs
import torture

LONG = ["mfsentrycacheto=5", "mfsattrcacheto=5", "mfsdirentrycacheto=5"]


def check(cond, what):
    if cond:
        print("ok: " + what, flush=True)
    else:
        torture.fail(what)


def write(path, data):
    with open(path, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())


def read(path):
    with open(path, "rb") as f:
        return f.read()


def prime(path):
    """Fills this mount's caches for `path`: its entry, attributes, directory listing, content."""
    os.stat(path)
    os.listdir(os.path.dirname(path))
    return read(path)


def link_race(a, b, name, label):
    """Each mount writes its own record and link()s it to `name`, b right after a."""
    os.makedirs(a, exist_ok=True)
    ta, tb = os.path.join(a, "ta-" + name), os.path.join(b, "tb-" + name)
    write(ta, b"from a")
    write(tb, b"from b")
    check(not os.path.exists(os.path.join(b, name)), "%s: the lease name is free through b before the race" % label)
    os.link(ta, os.path.join(a, name))
    try:
        os.link(tb, os.path.join(b, name))
        check(False, "%s: link() through b to a name a made just before fails with EEXIST (it succeeded)" % label)
    except OSError as e:
        check(e.errno == errno.EEXIST, "%s: link() through b to a name a made just before fails with EEXIST (%s)"
              % (label, errno.errorcode.get(e.errno)))
    check(read(os.path.join(b, name)) == b"from a", "%s: b reads a's record under the name" % label)


def default_caches(a, b):
    """a, b: one directory as two mounts with default caches see it."""
    os.makedirs(a)
    x, y = "x.sqlite", "y.sqlite"
    write(os.path.join(a, x), b"one")
    check(prime(os.path.join(b, x)) == b"one", "default: b sees a new file written through a")
    os.rename(os.path.join(a, x), os.path.join(a, y))
    check(not os.path.exists(os.path.join(b, x)) and os.path.exists(os.path.join(b, y)),
          "default: a rename through a is seen by name through b at once")
    check(sorted(os.listdir(b)) == [y], "default: ... and in b's listing (%s)" % sorted(os.listdir(b)))
    prime(os.path.join(b, y))
    write(os.path.join(a, "tmp"), b"two, longer")
    os.rename(os.path.join(a, "tmp"), os.path.join(a, y))
    check(read(os.path.join(b, y)) == b"two, longer", "default: a rename-over through a: b reads the new content")
    check(os.stat(os.path.join(b, y)).st_size == len(b"two, longer"), "default: ... and the new size")
    prime(os.path.join(b, y))
    os.unlink(os.path.join(a, y))
    check(not os.path.exists(os.path.join(b, y)) and os.listdir(b) == [],
          "default: an unlink through a is seen through b at once (by name and listing)")
    try:
        read(os.path.join(b, y))
        check(False, "default: opening the unlinked name through b fails with ENOENT (it opened)")
    except FileNotFoundError:
        check(True, "default: opening the unlinked name through b fails with ENOENT")
    link_race(a, b, "k.1.lease", "default")


def long_caches(a, b):
    """a, b: one directory as two mounts with 5 s caches see it. Each stale view is checked within
    the timeout of the priming, so a loaded machine still sees it."""
    os.makedirs(a)
    link_race(a, b, "k.1.lease", "long")
    write(os.path.join(a, "new.sqlite"), b"new")
    check(os.path.exists(os.path.join(b, "new.sqlite")), "long: a name new through a is seen by name through b at once")
    p = os.path.join(a, "gone.sqlite")
    write(p, b"gone")
    prime(os.path.join(b, "gone.sqlite"))
    os.unlink(p)
    check(os.path.exists(os.path.join(b, "gone.sqlite")),
          "long: a file unlinked through a still exists by name through b (stale entry cache)")
    p = os.path.join(a, "over.sqlite")
    write(p, b"old")
    prime(os.path.join(b, "over.sqlite"))
    write(os.path.join(a, "tmp"), b"new, longer")
    os.rename(os.path.join(a, "tmp"), p)
    check(read(os.path.join(b, "over.sqlite")) == b"old", "long: after a rename-over through a, b reads the old content")
    check(os.stat(os.path.join(b, "over.sqlite")).st_size == 3, "long: ... and the old file's size")
    # Not stale: a file changed in place (nothing of the cache does that) and the listing.
    p = os.path.join(a, "grow")
    write(p, b"1234")
    prime(os.path.join(b, "grow"))
    with open(p, "ab") as f:
        f.write(b"5678")
    check(os.stat(os.path.join(b, "grow")).st_size == 8, "long: a file appended to through a has its new size through b")
    p = os.path.join(a, "bad.sqlite")
    write(p, b"x" * 2000)
    q = os.path.join(b, "bad.sqlite")
    prime(q)
    os.rename(p, p + ".corrupt-x")  # another pod sets a damaged file aside
    check("bad.sqlite" not in os.listdir(b) and "bad.sqlite.corrupt-x" in os.listdir(b),
          "long: a rename through a is in b's listing at once (mfsdirentrycacheto=5 notwithstanding)")
    check(os.path.exists(q) and len(read(q)) == 2000, "long: ... but the old name still exists and opens through b")
    try:
        os.rename(q, q + ".corrupt-y")
        check(False, "long: setting the stale name aside through b fails with ENOENT (it succeeded)")
    except OSError as e:
        check(e.errno == errno.ENOENT, "long: setting the stale name aside through b fails with ENOENT (%s)"
              % errno.errorcode.get(e.errno))
    check(not os.path.exists(q), "long: after the failed rename, the name is gone through b too")


def setaside(a, b, run_args, work):
    """A damaged published file that a (another pod) set aside while b's caches still list it."""
    env = dict(os.environ, FAKE_WORKER_JOBS=os.path.join(work, "jobs"), FAKE_WORKER_MS="sdpa_comfy=1.0,flash3=0.8",
               FAKE_WORKER_MODE="normal")
    common = ["--simulate-gpu", torture.gpu("580.1"), "--venv", os.path.join(run_args.data, "venv"), "--workloads",
              os.path.join(run_args.data, "workloads.json"), "--backends", "sdpa_comfy,flash3",
              "--env-settings", os.path.join(work, "env"), "--decision-file", os.path.join(work, "dec.json")]
    subprocess.run([run_args.autotune, "--worker", run_args.fake_worker, "--cache-dir", a,
                    "--local-dir", os.path.join(work, "seed"), "-q"] + common, env=env, check=True)
    own = os.path.basename(torture.published_files(a)[0])
    # An older autotune's name (no decisions part), stamped newest: a boot reads it first.
    bad = "pub-%s-29990101T000000.000Z-bad-1-deadbeef.sqlite" % own.split("-")[1]
    write(os.path.join(a, "published", bad), b"not a published file" * 100)
    prime(os.path.join(b, "published", bad))
    os.rename(os.path.join(a, "published", bad), os.path.join(a, "published", bad + ".corrupt-by-another-pod"))
    t = time.monotonic()
    p = subprocess.run([run_args.autotune, "--no-tune", "--cache-dir", b, "--local-dir", os.path.join(work, "fresh")]
                       + common, env=env, capture_output=True, text=True)
    out = p.stdout + p.stderr
    check(time.monotonic() - t < 4, "setaside: the boot ran within b's cache timeout (%.1f s)" % (time.monotonic() - t))
    check(p.returncode == 0 and json.load(open(os.path.join(work, "dec.json"))).get("source") == "cache",
          "setaside: the boot through b is a cache hit (exit %d)" % p.returncode)
    check("could not be set aside" not in out,
          "setaside: no warning for a damaged file another pod set aside first%s"
          % ("" if "could not be set aside" not in out else ": " + out.strip()[-400:]))
    check(not os.path.exists(os.path.join(a, "published", bad)) and
          os.path.exists(os.path.join(a, "published", bad + ".corrupt-by-another-pod")),
          "setaside: the other pod's set-aside copy is the only one")


def cache_code(run_args, work, shareds):
    a = types.SimpleNamespace(driver=run_args.driver, autotune=run_args.autotune, fake_worker=run_args.fake_worker,
                              data=run_args.data, seed=11, kills=run_args.kills, parallel=4, max_delay=0.08,
                              procs=run_args.procs, rounds=run_args.rounds, keys=2, measure_s="0.05",
                              prune_every=3)
    for what in ("kills", "boots"):
        sub = os.path.join(work, what)
        os.makedirs(sub)
        ds = [os.path.join(s, what) for s in shareds]
        (torture.kills if what == "kills" else torture.boots)(a, sub, ds)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("what", nargs="*", default=["default", "long", "setaside", "cache"])
    ap.add_argument("--autotune", required=True)
    ap.add_argument("--driver", required=True)
    ap.add_argument("--fake-worker", required=True)
    ap.add_argument("--data", required=True)
    ap.add_argument("--kills", type=int, default=200)
    ap.add_argument("--procs", type=int, default=16)
    ap.add_argument("--rounds", type=int, default=10)
    a = ap.parse_args()
    reason = moosefs.skip_reason()
    if reason:
        print("SKIPPED: no MooseFS here: " + reason, flush=True)
        return 77
    moosefs.enter_namespace()
    work = tempfile.mkdtemp(prefix="moosefs-behaviour-")
    try:
        with moosefs.MooseFS(os.path.join(work, "mfs"), clients=4, options_of=[[], [], LONG, LONG]) as mfs:
            m = mfs.mounts
            for n, what in enumerate(a.what):
                d = "t%d-%s" % (n, what)
                if what == "default":
                    default_caches(os.path.join(m[0], d), os.path.join(m[1], d))
                elif what == "long":
                    long_caches(os.path.join(m[2], d), os.path.join(m[3], d))
                elif what == "setaside":
                    os.makedirs(os.path.join(work, d))
                    setaside(os.path.join(m[2], d), os.path.join(m[3], d), a, os.path.join(work, d))
                elif what == "cache":
                    os.makedirs(os.path.join(work, d))
                    cache_code(a, os.path.join(work, d), [os.path.join(m[2], d), os.path.join(m[3], d)])
                else:
                    raise SystemExit("unknown part %r: default, long, setaside or cache" % what)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    if torture.FAILURES:
        print("%d failures" % len(torture.FAILURES))
        return 1
    print("all checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""Torture tests for the fleet cache (cache/README.md), run by CTest (test `cache_torture`).

  boots   N processes boot `autotune` together against one shared directory, R rounds; each round
          uses new keys (simulated driver versions), so each key must be tuned exactly once.
          Tuning runs tests/tuning/fake_worker.py, which appends each job to FAKE_WORKER_JOBS.
          Checks: every boot exits 0 with the tuned decision; one tuning per key per round; every
          published file passes PRAGMA integrity_check; no record is lost.
  kills   K kill -9 injections at random moments into cache_torture_driver processes that commit,
          publish and compact in a loop; then integrity_check on every file, and every record the
          drivers logged as committed (local) or published is still readable.
  perf    cache-hit boot time (a fresh pod: empty local dir) with 1 published file, and with 100,
          printed as figures; checks that a boot opens no other key's file and compacts its own.

Prints figures; exits 1 on any failed check."""
import argparse
import json
import os
import random
import shutil
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time

FAILURES = []


def fail(msg):
    FAILURES.append(msg)
    print("FAIL: " + msg, flush=True)


def integrity(database, **connect):
    """(passed, details) of PRAGMA integrity_check on sqlite3.connect(database, **connect)."""
    try:
        con = sqlite3.connect(database, **connect)
        try:
            res = con.execute("PRAGMA integrity_check").fetchall()
        finally:
            con.close()
        return res == [("ok",)], res
    except sqlite3.Error as e:
        return False, str(e)


def check_file(path):
    """integrity_check of one SQLite file, opened read-only and immutable (no lock, no journal)."""
    return integrity("file:%s?immutable=1" % path, uri=True)


def check_local(path):
    """integrity_check of a pod's local file, as SQLite opens it (rolls back a hot journal)."""
    return integrity(path)


def published_files(shared):
    d = os.path.join(shared, "published")
    if not os.path.isdir(d):
        return []
    return [os.path.join(d, f) for f in sorted(os.listdir(d)) if f.startswith("pub-") and f.endswith(".sqlite")]


def read_records(path, immutable=True):
    uri = "file:%s?immutable=1" % path if immutable else "file:%s" % path
    con = sqlite3.connect(uri, uri=True)
    try:
        ms = con.execute("SELECT e.key, m.backend, m.shape, m.status FROM measurements m "
                         "JOIN environments e ON e.id = m.env_id").fetchall()
        ds = con.execute("SELECT e.key, d.backends, d.mechanism FROM decisions d "
                         "JOIN environments e ON e.id = d.env_id").fetchall()
        return ms, ds
    finally:
        con.close()


def gpu(driver):
    return "name=NVIDIA H100 80GB HBM3;cc=9.0;memory_mib=81559;driver=%s" % driver


def boots(a, work):
    shared = os.path.join(work, "shared")
    os.makedirs(shared)
    n, rounds, keys_per_round = a.procs, a.rounds, a.keys
    tunings_total, table_total, boot_ms = 0, 0, []
    expected_keys = []  # drivers whose decision must be published
    t0 = time.time()
    for r in range(rounds):
        procs = []
        for i in range(n):
            k = i % keys_per_round
            driver = "580.%d.%d" % (r, k)
            out = os.path.join(work, "r%d" % r, "p%d" % i)
            os.makedirs(out)
            env = dict(os.environ, RUNPOD_POD_ID="pod-%d-%d" % (r, i),
                       FAKE_WORKER_JOBS=os.path.join(work, "jobs-%d-%d.log" % (r, k)),
                       FAKE_WORKER_MODE="slow:%s" % a.measure_s, FAKE_WORKER_MS="sdpa_comfy=1.0,flash3=0.8")
            env.pop("COMFYUI_ATTENTION_MECHANISM", None)
            cmd = [a.autotune, "--simulate-gpu", gpu(driver), "--venv", os.path.join(a.data, "venv"),
                   "--workloads", os.path.join(a.data, "workloads.json"), "--worker", a.fake_worker,
                   "--backends", "sdpa_comfy,flash3", "--cache-dir", shared, "--local-dir", os.path.join(out, "local"),
                   "--env-settings", os.path.join(out, "env"), "--decision-file", os.path.join(out, "decision.json"),
                   "--wait-for-fleet", "120", "-q"]
            procs.append((subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE), out, k))
        pruner = None
        if a.prune_every and r % a.prune_every == a.prune_every - 1:  # a prune racing the boots
            pruner = subprocess.Popen([a.autotune, "cache", "prune", "--cache-dir", shared, "--local-dir",
                                       os.path.join(work, "pruner"), "--min-age", "0"],
                                      stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        for p, out, k in procs:
            so, se = p.communicate()
            if p.returncode != 0:
                fail("round %d %s: exit %d: %s" % (r, out, p.returncode, se.decode()[-500:]))
                continue
            with open(os.path.join(out, "decision.json")) as f:
                d = json.load(f)
            if d.get("source") == "table":
                table_total += 1
            elif d.get("mechanism") != "flash3":
                fail("round %d %s: decision %s from %s" % (r, out, d.get("mechanism"), d.get("source")))
            if se.strip():
                fail("round %d %s: warnings: %s" % (r, out, se.decode()[-500:]))
        if pruner:
            _, se = pruner.communicate()
            if pruner.returncode not in (0,):
                fail("round %d: concurrent prune exit %d: %s" % (r, pruner.returncode, se.decode()[-300:]))
        for k in range(keys_per_round):
            log = os.path.join(work, "jobs-%d-%d.log" % (r, k))
            jobs = sum(1 for _ in open(log)) if os.path.exists(log) else 0
            tunings_total += jobs
            if jobs > 1:
                fail("round %d key %d: %d tunings (at most one allowed)" % (r, k, jobs))
            if jobs == 0:
                fail("round %d key %d: nobody tuned" % (r, k))
            expected_keys.append("580.%d.%d" % (r, k))
        for path in published_files(shared):
            ok, res = check_file(path)
            if not ok:
                fail("round %d: %s fails integrity_check: %s" % (r, path, res))
        shutil.rmtree(os.path.join(work, "r%d" % r))  # the pods go away; the volume stays
    elapsed = time.time() - t0
    # No lost record: every key's decision and its 4 measurements are in the published files.
    decisions, measurements = set(), set()
    for path in published_files(shared):
        ms, ds = read_records(path)
        for key, backends, mech in ds:
            decisions.add(key.split("|driver=")[1].split("|")[0])
        for key, backend, shape, status in ms:
            measurements.add((key.split("|driver=")[1].split("|")[0], backend, shape))
    for drv in expected_keys:
        if drv not in decisions:
            fail("decision for driver %s lost" % drv)
        for b in ("sdpa_comfy", "flash3"):
            for s in ("flux-1024", "sdxl-1024"):
                if (drv, b, s) not in measurements:
                    fail("measurement %s/%s/%s lost" % (drv, b, s))
    files = len(published_files(shared))
    print("boots: %d processes x %d rounds (%d keys per round) in %.1f s: %d tunings for %d keys, %d boots fell "
          "back to the table, %d published files at the end, all pass integrity_check"
          % (n, rounds, keys_per_round, elapsed, tunings_total, len(expected_keys), table_total, files), flush=True)


def kills(a, work):
    shared = os.path.join(work, "shared")
    pods = 8
    logs = [os.path.join(work, "log-%d" % p) for p in range(pods)]
    locals_ = [os.path.join(work, "pod%d" % p, "cache.sqlite") for p in range(pods)]
    rng = random.Random(a.seed)
    running = {}
    done = 0
    t0 = time.time()
    stderr_log = open(os.path.join(work, "driver-stderr"), "wb")
    while done < a.kills:
        while len(running) < a.parallel:
            p = rng.choice([q for q in range(pods) if q not in running])
            running[p] = subprocess.Popen([a.driver, locals_[p], shared, logs[p]], stderr=stderr_log)
        p = rng.choice(list(running))
        time.sleep(rng.uniform(0.0, a.max_delay))
        proc = running.pop(p)
        if proc.poll() is not None:
            fail("driver for pod %d ended by itself with %s" % (p, proc.returncode))
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        done += 1
    for proc in running.values():
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    elapsed = time.time() - t0
    stderr_log.close()
    # Every file that readers read, and every pod's local file, passes integrity_check.
    files = published_files(shared)
    bad = 0
    for path in files:
        ok, res = check_file(path)
        if not ok:
            bad += 1
            fail("%s fails integrity_check: %s" % (path, res))
    for path in locals_:
        if os.path.exists(path):
            ok, res = check_local(path)
            if not ok:
                bad += 1
                fail("local %s fails integrity_check: %s" % (path, res))
    pub_dir = os.path.join(shared, "published")
    temps = [f for f in os.listdir(pub_dir) if f.startswith(".tmp-")]
    # Every record logged as committed is in its pod's local file; every one logged as published
    # is in some published file.
    published = set()
    for path in files:
        ms, _ = read_records(path)
        published.update(shape for _, _, shape, _ in ms)
    committed_n = published_n = 0
    for p in range(pods):
        if not os.path.exists(logs[p]):
            continue
        local = set()
        if os.path.exists(locals_[p]):
            con = sqlite3.connect(locals_[p])
            local = {row[0] for row in con.execute("SELECT shape FROM measurements")}
            con.close()
        for line in open(logs[p]):
            kind, shape = line.split()
            if kind == "L":
                committed_n += 1
                if shape not in local:
                    fail("pod %d: committed record %s missing from its local file" % (p, shape))
            else:
                published_n += 1
                if shape not in published:
                    fail("pod %d: published record %s missing from the published files" % (p, shape))
    warnings = open(os.path.join(work, "driver-stderr"), errors="replace").read().strip()
    if warnings:
        fail("drivers warned: " + warnings[-800:])
    print("kills: %d kill -9 injections (delay uniform 0-%.0f ms, %d drivers at once) in %.1f s; "
          "%d published files and %d local files pass integrity_check; %d committed and %d published records "
          "all readable; %d temporaries left by kills (never read; `cache prune` removes them)"
          % (a.kills, a.max_delay * 1000, a.parallel, elapsed, len(files), sum(os.path.exists(l) for l in locals_),
             committed_n, published_n, len(temps)), flush=True)


def perf(a, work):
    def setup(shared, others, same):
        """One published file with this key's decision, plus `others` files of other keys and
        `same` extra files of this key (older publishes that were never compacted)."""
        env = dict(os.environ, FAKE_WORKER_JOBS=os.path.join(work, "perf-jobs"), FAKE_WORKER_MS="sdpa_comfy=1.0,flash3=0.8",
                   FAKE_WORKER_MODE="normal")
        base = [a.autotune, "--venv", os.path.join(a.data, "venv"), "--workloads",
                os.path.join(a.data, "workloads.json"), "--worker", a.fake_worker, "--backends", "sdpa_comfy,flash3",
                "--cache-dir", shared, "-q", "--env-settings", os.path.join(work, "env"),
                "--decision-file", os.path.join(work, "dec.json")]
        seed_local = os.path.join(work, "seed-local-" + os.path.basename(shared))
        subprocess.run(base + ["--simulate-gpu", gpu("580.1"), "--local-dir", seed_local], env=env, check=True)
        # Other keys: publish once through a real tune, then copy with new names (same bytes,
        # other key hash would be wrong) -- so tune each for real, cheaply, via import.
        if others:
            doc = {"format": "comfyui-attention-autotune-cache", "version": 1, "measurements": [], "decisions": []}
            ex = json.loads(subprocess.run(base[:1] + ["cache", "export", "--cache-dir", shared, "--local-dir",
                                                       seed_local], check=True,
                                           capture_output=True).stdout)
            for i in range(others):
                for m in ex["measurements"]:
                    m2 = dict(m, key=dict(m["key"], driver="999.%d" % i))
                    doc["measurements"].append(m2)
                for d in ex["decisions"]:
                    doc["decisions"].append(dict(d, key=dict(d["key"], driver="999.%d" % i)))
            path = os.path.join(work, "others.json")
            json.dump(doc, open(path, "w"))
            subprocess.run(base[:1] + ["cache", "import", path, "--cache-dir", shared, "--local-dir",
                                       os.path.join(work, "import-local-%d" % others)], check=True,
                           stdout=subprocess.DEVNULL)
        if same:  # this key published again and again, never compacted: copies under new names
            own = published_files(shared)[0]
            name = os.path.basename(own)
            for i in range(same):
                stamp = "29990101T0000%02d.%03dZ" % (i // 1000, i % 1000)  # newer: read them all
                parts = name.split("-")
                parts[2] = stamp
                shutil.copy(own, os.path.join(shared, "published", "-".join(parts[:-1]) + "-copy%d.sqlite" % i))

    def cache_hit_boot(shared, local, *extra):
        """A boot with --no-tune against `shared`: its output and wall ms. Fails the check unless
        its decision came from the cache."""
        cmd = [a.autotune, "--simulate-gpu", gpu("580.1"), "--venv", os.path.join(a.data, "venv"), "--workloads",
               os.path.join(a.data, "workloads.json"), "--no-tune", "--cache-dir", shared, "--local-dir", local,
               "--env-settings", os.path.join(work, "env"), "--decision-file", os.path.join(work, "dec.json")]
        t = time.perf_counter()
        p = subprocess.run(cmd + list(extra), capture_output=True)
        ms = (time.perf_counter() - t) * 1000
        if p.returncode != 0 or json.load(open(os.path.join(work, "dec.json"))).get("source") != "cache":
            fail("boot against %s was not a cache hit: %s" % (shared, p.stderr.decode()[-300:]))
        return (p.stdout + p.stderr).decode(), ms

    def time_boots(shared, runs):
        times = []
        for i in range(runs):
            local = os.path.join(work, "fresh-%d" % random.randrange(1 << 30))
            times.append(cache_hit_boot(shared, local, "-q")[1])
            shutil.rmtree(local, ignore_errors=True)
        return statistics.median(times)

    one = os.path.join(work, "one")
    setup(one, 0, 0)
    many_other = os.path.join(work, "many-other")
    setup(many_other, 99, 0)
    many_same = os.path.join(work, "many-same")
    setup(many_same, 0, 99)
    runs = a.perf_runs
    # Interleave to share the machine's load fairly.
    t1 = time_boots(one, runs)
    t2 = time_boots(many_other, runs)
    n_same_before = len(published_files(many_same))
    t_first = time_boots(many_same, 1)  # reads all of them, then compacts the key's files
    t3 = time_boots(many_same, runs)
    t1b = time_boots(one, runs)
    base = min(t1, t1b)
    n_other = len(published_files(many_other))
    n_same = len(published_files(many_same))
    print("perf: cache-hit boot of a fresh pod, median of %d process runs: %.2f ms with 1 published file; "
          "%.2f ms with %d files (99 other keys); with %d files of this key (never compacted): first boot %.2f ms "
          "(it compacts them), then %.2f ms with %d file(s)"
          % (runs, base, t2, n_other, n_same_before, t_first, t3, n_same), flush=True)
    # The figures above are printed, not bounded: a timing bound failed on a loaded CI machine
    # (22.4 ms against 9.3 ms, 2026-12-01). What keeps the boot fast is checked instead: it opens
    # only its own key's files, and the boot that finds many of them leaves one.
    if n_same != 1:
        fail("the boot that read %d files of its key left %d, not 1 compacted file" % (n_same_before, n_same))
    own_hash = os.path.basename(published_files(one)[0]).split("-")[1]
    others = [f for f in published_files(many_other) if os.path.basename(f).split("-")[1] != own_hash]
    for path in others:  # a boot that opened one would set it aside with a warning
        with open(path, "wb") as f:
            f.write(b"not a published file")
    out = cache_hit_boot(many_other, os.path.join(work, "fresh-beside-garbage"))[0]
    opened = [f for f in others if not os.path.exists(f)]
    if len(others) != 99 or opened or "warning" in out.lower():
        fail("boot opened other keys' files: %d of %d set aside; output: %s" % (len(opened), len(others), out[-300:]))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("what", nargs="*", default=["boots", "kills", "perf"])
    ap.add_argument("--autotune", required=True)
    ap.add_argument("--driver", required=True)
    ap.add_argument("--fake-worker", required=True)
    ap.add_argument("--data", required=True)
    ap.add_argument("--procs", type=int, default=32)
    ap.add_argument("--rounds", type=int, default=50)
    ap.add_argument("--keys", type=int, default=4)
    ap.add_argument("--measure-s", default="0.05", help="fake worker's seconds per measurement")
    ap.add_argument("--prune-every", type=int, default=10)
    ap.add_argument("--kills", type=int, default=500)
    ap.add_argument("--parallel", type=int, default=4)
    ap.add_argument("--max-delay", type=float, default=0.08)
    ap.add_argument("--perf-runs", type=int, default=30)
    ap.add_argument("--seed", type=int, default=5)
    ap.add_argument("--keep", action="store_true")
    a = ap.parse_args()
    work = tempfile.mkdtemp(prefix="cache-torture-")
    try:
        for what in a.what:
            sub = os.path.join(work, what)
            os.makedirs(sub)
            {"boots": boots, "kills": kills, "perf": perf}[what](a, sub)
    finally:
        if a.keep:
            print("kept " + work)
        else:
            shutil.rmtree(work, ignore_errors=True)
    if FAILURES:
        print("%d failures" % len(FAILURES))
        return 1
    print("all checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())

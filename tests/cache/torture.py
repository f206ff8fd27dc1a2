#!/usr/bin/env python3
"""Torture tests for the fleet cache (cache/README.md), run by CTest (test `cache_torture`).

  boots   N processes boot `autotune` together against one shared directory, R rounds; each round
          uses new keys (simulated driver versions), so each key must be tuned exactly once.
          Tuning runs tests/boot/tuning/fake_worker.py, which appends each job to FAKE_WORKER_JOBS.
          Checks: every boot exits 0 with the tuned decision; one tuning per key per round; every
          published file passes PRAGMA integrity_check; no record is lost.
  kills   K kill -9 injections at random moments into cache_torture_driver processes that commit,
          publish and compact in a loop; then integrity_check on every file, and every record the
          drivers logged as committed (local) or published is still readable.
  leases  K kill -9 injections into drivers that take, refresh and release one lease in a loop
          (`cache_torture_driver --lease`), so killed holders are taken over; checks that no two
          holds overlap in time and that no take-over failed.
  perf    cache-hit boot time (a fresh pod: empty local dir) with 1 published file, and with 100,
          and publish, lease and read latencies each on their own (`cache_torture_driver
          --latency`), printed as figures; checks that a boot opens no other key's file and that
          its key's files get compacted after it (by the detached compactor, off the boot's path).

--moosefs N runs all of it on a real MooseFS (tests/cache/moosefs.py) with N client mounts: pods
are spread over the mounts, the chunkserver is stopped and restarted during one round of boots
and the master restarted during another, and perf times the same boots, publishes, leases and
reads on MooseFS and on the local disk side by side. Exits 77 (CTest: skipped) with the reason
where MooseFS cannot run.

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

import moosefs

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


def boots(a, work, shareds, faults=None):
    """`shareds`: the one shared directory as each client sees it (pod i uses shareds[i % len]).
    `faults`: {round: function} run 0.3 s into that round's boots, on this thread: a daemon it
    starts must not be the child of a thread that ends (PR_SET_PDEATHSIG would kill it then)."""
    for shared in shareds:
        os.makedirs(shared, exist_ok=True)
    shared = shareds[0]
    n, rounds, keys_per_round = a.procs, a.rounds, a.keys
    faults = faults or {}
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
                   "--backends", "sdpa_comfy,flash3", "--cache-dir", shareds[i % len(shareds)],
                   "--local-dir", os.path.join(out, "local"),
                   "--env-settings", os.path.join(out, "env"), "--decision-file", os.path.join(out, "decision.json"),
                   "--wait-for-fleet", "120", "-q"]
            procs.append((subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE), out, k))
        if r in faults:
            time.sleep(0.3)
            faults[r]()
        pruner = None
        if a.prune_every and r % a.prune_every == a.prune_every - 1:  # a prune racing the boots
            pruner = subprocess.Popen([a.autotune, "cache", "prune", "--cache-dir", shareds[-1], "--local-dir",
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


def kills(a, work, shareds):
    shared = shareds[0]
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
            running[p] = subprocess.Popen([a.driver, locals_[p], shareds[p % len(shareds)], logs[p]],
                                          stderr=stderr_log)
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


def leases(a, work, shareds):
    """kill -9 into drivers that take one lease again and again, spread over the clients."""
    logs = [os.path.join(work, "lease-log-%d" % p) for p in range(8)]
    rng = random.Random(a.seed + 1)
    running = {}
    t0 = time.time()
    for _ in range(a.lease_kills):
        while len(running) < a.parallel:
            p = rng.choice([q for q in range(len(logs)) if q not in running])
            running[p] = subprocess.Popen([a.driver, "--lease", shareds[p % len(shareds)], logs[p], str(a.lease_ttl_ms)])
        time.sleep(rng.uniform(0.0, a.lease_ttl_ms / 1000.0))
        proc = running.pop(rng.choice(list(running)))
        if proc.poll() is not None:
            fail("lease driver ended by itself with %s" % proc.returncode)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    for proc in running.values():
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    elapsed = time.time() - t0
    holds, errors = {}, []
    for log in logs:
        if not os.path.exists(log):
            continue
        for line in open(log):
            f = line.split()
            if not f:
                continue
            if f[0] == "A":
                holds[f[1]] = [int(f[2]), int(f[3]), None]  # start, expiry, released at
            elif f[0] == "F" and f[1] in holds:
                holds[f[1]][1] = int(f[2])
            elif f[0] == "R" and f[1] in holds:
                holds[f[1]][2] = int(f[2])
            elif f[0] == "E":
                errors.append(line.strip())
    for e in errors[:5]:
        fail("lease driver: " + e)
    # A hold ends at its release, or (killed) at its last known expiry; the next may start after.
    spans = sorted((start, released if released is not None else expiry, token)
                   for token, (start, expiry, released) in holds.items())
    overlaps = 0
    for (s1, e1, t1), (s2, e2, t2) in zip(spans, spans[1:]):
        if s2 < e1:
            overlaps += 1
            if overlaps <= 5:
                fail("lease held twice: %s from %d to %d, %s from %d" % (t1, s1, e1, t2, s2))
    killed = sum(1 for _, (_, _, released) in holds.items() if released is None)
    print("leases: %d kill -9 into %d lease drivers at once over %d client(s) in %.1f s (ttl %d ms): %d holds, "
          "%d ended by a kill and taken over after expiry, %d overlapping, %d errors"
          % (a.lease_kills, a.parallel, len(shareds), elapsed, a.lease_ttl_ms, len(holds), killed, overlaps,
             len(errors)), flush=True)


def perf(a, work, places):
    """`places`: {name: directory} where a shared cache can live (the local disk, a MooseFS mount);
    the same boots are timed against each, interleaved, so they share the machine's load alike."""
    env = dict(os.environ, FAKE_WORKER_JOBS=os.path.join(work, "perf-jobs"), FAKE_WORKER_MS="sdpa_comfy=1.0,flash3=0.8",
               FAKE_WORKER_MODE="normal")
    base = [a.autotune, "--venv", os.path.join(a.data, "venv"), "--workloads",
            os.path.join(a.data, "workloads.json"), "--worker", a.fake_worker, "--backends", "sdpa_comfy,flash3",
            "-q", "--env-settings", os.path.join(work, "env"), "--decision-file", os.path.join(work, "dec.json")]

    def setup(shared, others, same):
        """One published file with this key's decision (a real tune), plus `others` files of other
        keys and `same` extra files of this key: republished copies of its decisions, never
        compacted, named as a republish names them (another pod, pid and random part)."""
        seed_local = os.path.join(work, "seed-local-%d" % random.randrange(1 << 30))
        subprocess.run(base + ["--cache-dir", shared, "--simulate-gpu", gpu("580.1"), "--local-dir", seed_local],
                       env=env, check=True)
        if others:
            doc = {"format": "comfyui-attention-autotune-cache", "version": 1, "measurements": [], "decisions": []}
            ex = json.loads(subprocess.run([a.autotune, "cache", "export", "--cache-dir", shared, "--local-dir",
                                            seed_local], check=True, capture_output=True).stdout)
            for i in range(others):
                for m in ex["measurements"]:
                    doc["measurements"].append(dict(m, key=dict(m["key"], driver="999.%d" % i)))
                for d in ex["decisions"]:
                    doc["decisions"].append(dict(d, key=dict(d["key"], driver="999.%d" % i)))
            path = os.path.join(work, "others.json")
            json.dump(doc, open(path, "w"))
            subprocess.run([a.autotune, "cache", "import", path, "--cache-dir", shared, "--local-dir",
                            os.path.join(work, "import-local-%d" % random.randrange(1 << 30))], check=True,
                           stdout=subprocess.DEVNULL)
        if same:
            own = published_files(shared)[0]
            parts = os.path.basename(own).split("-")  # pub, hash, stamp, pod, pid, random, suffix
            for i in range(same):
                parts[2] = "29990101T0000%02d.%03dZ" % (i // 1000, i % 1000)  # newer than the original
                parts[3], parts[5] = "copy%d" % i, "%08x" % i
                shutil.copy(own, os.path.join(shared, "published", "-".join(parts)))

    def cache_hit_boot(shared, local, *extra):
        cmd = [a.autotune, "--simulate-gpu", gpu("580.1"), "--venv", os.path.join(a.data, "venv"), "--workloads",
               os.path.join(a.data, "workloads.json"), "--no-tune", "--cache-dir", shared, "--local-dir", local,
               "--env-settings", os.path.join(work, "env"), "--decision-file", os.path.join(work, "dec.json")]
        t = time.perf_counter()
        p = subprocess.run(cmd + list(extra), capture_output=True)
        ms = (time.perf_counter() - t) * 1000
        if p.returncode != 0 or json.load(open(os.path.join(work, "dec.json"))).get("source") != "cache":
            fail("boot against %s was not a cache hit: %s" % (shared, p.stderr.decode()[-300:]))
        return (p.stdout + p.stderr).decode(), ms

    def one_boot(shared):
        local = os.path.join(work, "fresh-%d" % random.randrange(1 << 30))
        ms = cache_hit_boot(shared, local, "-q")[1]
        shutil.rmtree(local, ignore_errors=True)
        return ms

    def wait_compacted(shared, timeout=60):
        deadline = time.time() + timeout
        while len(published_files(shared)) > 1 and time.time() < deadline:
            time.sleep(0.05)
        return len(published_files(shared))

    runs = a.perf_runs
    one, firsts = {}, {}
    for name, root in places.items():
        one[name] = os.path.join(root, "perf-one")
        setup(one[name], 0, 0)
        firsts[name] = []
        for j in range(a.perf_first_runs):  # each first boot needs its own uncompacted pile
            d = os.path.join(root, "perf-same-%d" % j)
            setup(d, 0, 99)
            firsts[name].append(d)
    t_one = {name: [] for name in places}
    t_first = {name: [] for name in places}
    for i in range(runs):  # interleaved: the same moments of the machine's load for each place
        for name in places:
            t_one[name].append(one_boot(one[name]))
            if i < a.perf_first_runs:
                t_first[name].append(one_boot(firsts[name][i]))
    # Every place's compactions first: one still running (it starts kCompactDelay after its boot)
    # would slow the later boots measured beside it.
    left = {name: [wait_compacted(d) for d in firsts[name]] for name in places}
    for name in places:
        left_here = left[name]
        later = statistics.median(one_boot(firsts[name][0]) for _ in range(5))
        m1, mf = statistics.median(t_one[name]), statistics.median(t_first[name])
        print("perf %s: cache-hit boot of a fresh pod, median of %d process runs: %.2f ms with 1 published file; "
              "the first boot that finds 100 files of its key (never compacted): median %.2f ms of %d (%.2fx), "
              "files left after the detached compaction: %s, later boots %.2f ms"
              % (name, runs, m1, mf, len(t_first[name]), mf / m1, left_here, later), flush=True)
        if any(n != 1 for n in left_here):
            fail("%s: the detached compaction left %s files, not 1 each" % (name, left_here))
    if len(places) > 1:
        names = list(places)
        print("perf: cache-hit boot, 1 file, %s against %s: %.2fx" % (
            names[1], names[0], statistics.median(t_one[names[1]]) / statistics.median(t_one[names[0]])), flush=True)
    # Publish, lease and read on their own, through the code a boot runs, in every place side by
    # side (tests/cache/latency.h); after the compactions above, which would run beside them.
    p = subprocess.run([a.driver, "--latency", str(a.latency_runs), os.path.join(work, "latency-local")] +
                       ["%s=%s" % (name, os.path.join(root, "latency")) for name, root in places.items()],
                       capture_output=True, text=True)
    print(p.stdout, end="", flush=True)
    if p.returncode != 0:
        fail("latencies: exit %d: %s" % (p.returncode, p.stderr[-500:]))
    # Printed, not bounded: a timing bound failed on a loaded CI machine (22.4 ms against 9.3 ms,
    # 2026-12-01). What keeps the boot fast is checked instead: it opens only its own key's files.
    root = list(places.values())[0]
    many_other = os.path.join(root, "perf-many-other")
    setup(many_other, 99, 0)
    own_hash = os.path.basename(published_files(one[list(places)[0]])[0]).split("-")[1]
    others = [f for f in published_files(many_other) if os.path.basename(f).split("-")[1] != own_hash]
    for path in others:  # a boot that opened one would set it aside with a warning
        with open(path, "wb") as f:
            f.write(b"not a published file")
    out = cache_hit_boot(many_other, os.path.join(work, "fresh-beside-garbage"))[0]
    opened = [f for f in others if not os.path.exists(f)]
    if len(others) != 99 or opened or "warning" in out.lower():
        fail("boot opened other keys' files: %d of %d set aside; output: %s" % (len(opened), len(others), out[-300:]))


def run(a, work, places, shareds, mfs=None):
    faults = {}
    if mfs:
        def chunkserver():
            t = time.time()
            mfs.stop_chunkserver()
            time.sleep(1.0)
            mfs.start_chunkserver()
            print("fault: chunkserver stopped and restarted during the boots (%.1f s down)" % (time.time() - t),
                  flush=True)

        def master():
            t = time.time()
            mfs.restart_master()
            print("fault: master restarted during the boots (%.1f s)" % (time.time() - t), flush=True)
        faults = {a.rounds // 3: chunkserver, (2 * a.rounds) // 3: master}
    for what in a.what:
        sub = os.path.join(work, what)
        os.makedirs(sub)
        t = time.time()
        if what == "boots":
            boots(a, sub, [os.path.join(s, "boots") for s in shareds], faults)
        elif what == "kills":
            kills(a, sub, [os.path.join(s, "kills") for s in shareds])
        elif what == "leases":
            leases(a, sub, [os.path.join(s, "leases") for s in shareds])
        elif what == "perf":
            perf(a, sub, {name: os.path.join(d, "perf") for name, d in places.items()})
        else:
            raise SystemExit("unknown part %r: boots, kills, leases or perf" % what)
        print("(%s took %.0f s)" % (what, time.time() - t), flush=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("what", nargs="*", default=["boots", "kills", "leases", "perf"])
    ap.add_argument("--moosefs", type=int, default=0, metavar="N", help="on a real MooseFS with N client mounts")
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
    ap.add_argument("--perf-first-runs", type=int, default=5)
    ap.add_argument("--latency-runs", type=int, default=200, help="publishes, lease cycles and reads per place")
    ap.add_argument("--lease-kills", type=int, default=100)
    ap.add_argument("--lease-ttl-ms", type=int, default=2000)
    ap.add_argument("--seed", type=int, default=5)
    ap.add_argument("--keep", action="store_true")
    a = ap.parse_args()
    if a.moosefs:
        reason = moosefs.skip_reason()
        if reason:
            print("SKIPPED: no MooseFS here: " + reason, flush=True)
            return 77
        moosefs.enter_namespace()
    work = tempfile.mkdtemp(prefix="cache-torture-")
    try:
        local = os.path.join(work, "disk")
        if a.moosefs:
            t = time.time()
            with moosefs.MooseFS(os.path.join(work, "mfs"), clients=a.moosefs) as mfs:
                print("MooseFS: master, chunkserver and %d client mounts ready in %.1f s"
                      % (a.moosefs, time.time() - t), flush=True)
                shareds = [os.path.join(m, "autotune") for m in mfs.mounts]
                run(a, work, {"local disk": local, "MooseFS": shareds[0]}, shareds, mfs)
        else:
            run(a, work, {"local disk": local}, [os.path.join(work, "shared")])
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

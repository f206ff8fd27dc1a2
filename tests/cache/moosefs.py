"""A real MooseFS for tests: a master, a chunkserver and N client mounts, in a private network and
mount namespace that the test makes.

Why a namespace: mfsmaster and mfschunkserver refuse 127.0.0.0/8 ("use ip address of network
controller"), so they listen on 10.77.0.1 on the namespace's own loopback, and no traffic leaves
it. Why a mount namespace too: if the test is killed, its FUSE mounts vanish with the namespace
instead of staying behind as dead "Transport endpoint is not connected" entries on the host.
The daemons and mounts run in the foreground as children with PR_SET_PDEATHSIG, so a kill -9 of
the test takes them down with it; a normal exit stops each one by its pid and unmounts. Start
them from a thread that lives as long as they should: PR_SET_PDEATHSIG fires when the thread
that forked them ends (a restart from a short-lived thread once killed the new chunkserver).

Each mfsmount is its own client with its own attribute and directory caches, so N mounts of one
MooseFS behave like N pods on one RunPod network volume.

Usage:
    reason = skip_reason()            # None, or why this machine cannot run it
    enter_namespace()                 # re-executes this process under `unshare -n -m` (once)
    with MooseFS(root, clients=4) as mfs:
        mfs.mounts[i] ...; mfs.restart_master(); mfs.stop_chunkserver(); mfs.start_chunkserver()
"""
import ctypes
import os
import shutil
import signal
import socket
import subprocess
import sys
import time

ADDRESS = "10.77.0.1"
CLIENT_PORT = 9421  # MATOCL: where mfsmount connects
_IN_NAMESPACE = "AUTOTUNE_MOOSEFS_NAMESPACE"
_PR_SET_PDEATHSIG = 1


def _die_with_parent():
    """preexec_fn: the child gets SIGKILL when the test process dies, however it dies."""
    ctypes.CDLL("libc.so.6", use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)


def skip_reason():
    """Why MooseFS tests cannot run here, or None."""
    for tool in ("mfsmaster", "mfschunkserver", "mfsmount", "unshare", "ip"):
        if not shutil.which(tool):
            return "%s not found (Debian: apt-get install moosefs-master moosefs-chunkserver moosefs-client)" % tool
    if not os.path.exists("/var/lib/mfs/metadata.mfs.empty"):
        return "/var/lib/mfs/metadata.mfs.empty not found (moosefs-master)"
    if not os.path.exists("/dev/fuse"):
        return "/dev/fuse is missing (no FUSE in this container)"
    if os.environ.get(_IN_NAMESPACE) == "1":
        return None
    p = subprocess.run(["unshare", "-n", "-m", "true"], capture_output=True)
    if p.returncode != 0:
        return "cannot make a network and mount namespace (unshare -n -m: %s)" % p.stderr.decode().strip()
    return None


def enter_namespace():
    """Re-executes the current command in a new network and mount namespace (same pid: exec, so
    CTest's timeout still reaches it), then brings the namespace's loopback up with ADDRESS."""
    if os.environ.get(_IN_NAMESPACE) != "1":
        os.environ[_IN_NAMESPACE] = "1"
        sys.stdout.flush()
        os.execvp("unshare", ["unshare", "-n", "-m", "--propagation", "private", sys.executable] + sys.argv)
    subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
    have = subprocess.run(["ip", "-o", "addr", "show", "dev", "lo"], capture_output=True, text=True).stdout
    if ADDRESS + "/32" not in have:
        subprocess.run(["ip", "addr", "add", ADDRESS + "/32", "dev", "lo"], check=True)


def _wait(what, check, timeout):
    deadline = time.monotonic() + timeout
    while True:
        try:
            if check():
                return
        except OSError:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError("MooseFS fixture: %s not ready after %.0f s" % (what, timeout))
        time.sleep(0.05)


def _listening(port):
    with socket.create_connection((ADDRESS, port), timeout=0.5):
        return True


class MooseFS:
    def __init__(self, root, clients=4, mount_options=(), options_of=None):
        """`mount_options`: mfsmount -o options for every mount; `options_of`: a list with one
        sequence of further options per mount (clients with different caches on one MooseFS)."""
        if clients < 1:
            raise ValueError("MooseFS fixture: clients must be at least 1, not %r" % clients)
        if options_of is not None and len(options_of) != clients:
            raise ValueError("MooseFS fixture: options_of has %d entries for %d clients" % (len(options_of), clients))
        self.root = root
        self.clients = clients
        self.mount_options = list(mount_options)
        self.options_of = [list(o) for o in options_of] if options_of is not None else [[] for _ in range(clients)]
        self.mounts = [os.path.join(root, "mnt%d" % i) for i in range(clients)]
        self._master = self._chunkserver = None
        self._mfsmounts = []

    # --- daemons -----------------------------------------------------------------------------
    def _spawn(self, name, cmd):
        log = open(os.path.join(self.root, name + ".log"), "ab")
        return subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                preexec_fn=_die_with_parent)

    def _stop(self, proc, name, timeout=30):
        if proc is None or proc.poll() is not None:
            return
        proc.send_signal(signal.SIGTERM)  # the master writes its metadata on TERM
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            print("MooseFS fixture: %s (pid %d) ignored SIGTERM for %d s; killed" % (name, proc.pid, timeout),
                  flush=True)
            proc.kill()
            proc.wait()

    def start_master(self):
        self._master = self._spawn("master", ["mfsmaster", "-f", "-c", self._master_cfg, "start"])
        _wait("mfsmaster on %s:%d" % (ADDRESS, CLIENT_PORT), lambda: _listening(CLIENT_PORT), 30)

    def stop_master(self):
        self._stop(self._master, "mfsmaster")

    def restart_master(self):
        self.stop_master()
        self.start_master()

    def start_chunkserver(self):
        self._chunkserver = self._spawn("chunkserver", ["mfschunkserver", "-f", "-c", self._cs_cfg, "start"])
        _wait("mfschunkserver on %s:9422" % ADDRESS, lambda: _listening(9422), 30)

    def stop_chunkserver(self):
        self._stop(self._chunkserver, "mfschunkserver")

    # --- whole cluster -----------------------------------------------------------------------
    def __enter__(self):
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc):
        self.stop()
        return False

    def start(self):
        r = self.root
        for d in ("master", "chunkserver", "hdd"):
            os.makedirs(os.path.join(r, d), exist_ok=True)
        shutil.copy("/var/lib/mfs/metadata.mfs.empty", os.path.join(r, "master", "metadata.mfs"))
        with open(os.path.join(r, "exports"), "w") as f:
            f.write("* / rw,alldirs,maproot=0\n")
        self._master_cfg = os.path.join(r, "master.cfg")
        with open(self._master_cfg, "w") as f:
            f.write("WORKING_USER = root\nWORKING_GROUP = root\nDATA_PATH = %s\nEXPORTS_FILENAME = %s\n"
                    "MATOML_LISTEN_HOST = %s\nMATOCS_LISTEN_HOST = %s\nMATOCL_LISTEN_HOST = %s\n"
                    % (os.path.join(r, "master"), os.path.join(r, "exports"), ADDRESS, ADDRESS, ADDRESS))
        with open(os.path.join(r, "hdd.cfg"), "w") as f:
            f.write(os.path.join(r, "hdd") + "\n")
        self._cs_cfg = os.path.join(r, "chunkserver.cfg")
        with open(self._cs_cfg, "w") as f:
            f.write("WORKING_USER = root\nWORKING_GROUP = root\nDATA_PATH = %s\nHDD_CONF_FILENAME = %s\n"
                    "MASTER_HOST = %s\nBIND_HOST = %s\nCSSERV_LISTEN_HOST = %s\n"
                    % (os.path.join(r, "chunkserver"), os.path.join(r, "hdd.cfg"), ADDRESS, ADDRESS, ADDRESS))
        self.start_master()
        self.start_chunkserver()
        for i, m in enumerate(self.mounts):
            os.makedirs(m, exist_ok=True)
            opts = sum((["-o", o] for o in self.mount_options + self.options_of[i]), [])
            p = self._spawn("mount%d" % i, ["mfsmount", "-f", m, "-H", ADDRESS] + opts)
            self._mfsmounts.append(p)
            _wait("mfsmount %s" % m, lambda: os.path.ismount(m) or p.poll() is not None, 30)
            if p.poll() is not None:
                raise RuntimeError("MooseFS fixture: mfsmount %s exited with %s; see %s"
                                   % (m, p.returncode, os.path.join(r, "mount%d.log" % i)))
        # One chunkserver: one copy of each chunk (the default goal 2 leaves every chunk
        # undergoal), and no trash, so deleted files free their chunks at once.
        subprocess.run(["mfssetgoal", "-r", "1", self.mounts[0]], check=True, capture_output=True)
        subprocess.run(["mfssettrashtime", "-r", "0", self.mounts[0]], check=True, capture_output=True)

        def written():  # a write needs the chunkserver registered with the master
            probe = os.path.join(self.mounts[0], ".ready")
            with open(probe, "w") as f:
                f.write("ready")
                f.flush()
                os.fsync(f.fileno())
            os.unlink(probe)
            return True
        _wait("a write through %s" % self.mounts[0], written, 60)

    def stop(self):
        for m, p in zip(self.mounts, self._mfsmounts):
            if os.path.ismount(m):
                if subprocess.run(["umount", m], capture_output=True).returncode != 0:
                    subprocess.run(["umount", "-l", m], capture_output=True)
            self._stop(p, "mfsmount " + m, timeout=10)
        self._mfsmounts = []
        self.stop_chunkserver()
        self.stop_master()

"""The marker that tells autotune a prompt runs.

Between a prompt's start and its end the node keeps a file beside the decision file
(`.attention_decision.json` -> `.attention_decision.busy`, common/prompt_marker.cpp derives the
same name) holding ComfyUI's pid and the prompt's start time. A tune sharing the GPU (pod_start.sh's
first boot, `autotune tune --seen`) waits between its measurements while the marker names a live
process, so that the prompt runs alone on the GPU. On the H200 a ComfyUI step of Wan 2.1 1.3B at
720p took 8.26 s beside a cold tune against 4.82 s alone without the marker, and 4.88 s against
4.85 s with it (results/h200-2026-12-03-seen, calls 1 and 4). Two file operations per prompt,
none per attention call.
"""
import os
import time

from .seen import atomic_write


def busy_path(decision_file):
    root, _ = os.path.splitext(decision_file)
    return root + ".busy"


class PromptMarker:
    def __init__(self, path, pid=None, clock=time.time):
        self.path = path
        self.pid = os.getpid() if pid is None else pid
        self.clock = clock

    def start(self):
        """A prompt starts: the marker, written whole (a reader never sees half a pid)."""
        atomic_write(self.path, "{}\n{:.3f}\n".format(self.pid, self.clock()))

    def end(self):
        try:
            os.unlink(self.path)
        except FileNotFoundError:
            pass

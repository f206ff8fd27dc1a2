#!/usr/bin/env bash
# Question: do the carried attention wheels install and import here?
#
#   install_wheels.sh LIBS_TXT
#
# Installs the wheels in WHEELS [.carry/wheels] into python3's environment (no index, no
# dependencies) and writes to LIBS_TXT, for FlashAttention-3 and SageAttention, the version and
# the import time, or why the import failed. For the device scripts of this folder.
set -u
[ $# -eq 1 ] || { echo "usage: $0 LIBS_TXT" >&2; exit 2; }
python3 -m pip install -q --no-index --no-deps --no-compile "${WHEELS:-.carry/wheels}"/*.whl 2>&1 | tail -3
python3 - <<'PY' 2>&1 | tee "$1"
import importlib, importlib.metadata as md, time
for mod, dist in (("flash_attn_interface", "flash_attn_3"), ("sageattention", "sageattention")):
    t = time.time()
    try:
        importlib.import_module(mod)
        print(mod, md.version(dist), "imported in %.2f s" % (time.time() - t))
    except Exception as e:
        print(mod, "FAILED:", type(e).__name__, e)
PY

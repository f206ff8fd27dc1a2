#!/usr/bin/env bash
# Question: do the carried attention wheels install and import here?
#
#   install_wheels.sh LIBS_TXT
#
# Installs the wheels in WHEELS [.carry/wheels] into python3's environment (no index, no
# dependencies) and writes to LIBS_TXT, for FlashAttention-3 and SageAttention, the version and
# the import time, or why the import failed. For the device scripts of this folder.
#
# It also compiles the environment's Python files to bytecode, as pip leaves a pod's venv. The GPU
# machine's venv has none for most of torch, and its processes write none
# (PYTHONDONTWRITEBYTECODE=1): each process compiled about 900 modules again, 4.3 s of
# FlashAttention-3's 6.3 s first call, which imports torch._dynamo and sympy
# (results/h200-2026-12-03-callA/first_calls.profile.txt). BYTECODE=0 leaves it as it is.
set -u
[ $# -eq 1 ] || { echo "usage: $0 LIBS_TXT" >&2; exit 2; }
python3 -m pip install -q --no-index --no-deps "${WHEELS:-.carry/wheels}"/*.whl 2>&1 | tail -3
if [ "${BYTECODE:-1}" != 0 ]; then
  site=$(python3 -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
  start=$(date +%s%N)
  python3 -m compileall -q -j 0 "$site" > /dev/null 2>&1
  echo "bytecode: compileall of $site: rc $?, $(( ($(date +%s%N) - start) / 1000000 )) ms" | tee "$1.bytecode"
fi
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

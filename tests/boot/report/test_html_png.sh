#!/usr/bin/env bash
# CTest: the HTML report of the H100 FIXTURE, rendered by headless Chromium, is a real picture.
#   test_html_png.sh AUTOTUNE MAKE_FIXTURE_CACHE VENV WORKDIR
# Exits 77 (skipped) with the reason when Chromium is not installed.
set -euo pipefail
autotune=$1 make_cache=$2 venv=$3 work=$4
here=$(cd "$(dirname "$0")" && pwd)
rm -rf "$work"
mkdir -p "$work/local"
"$make_cache" "$work/local/cache.sqlite" default
h100='name=NVIDIA H100 80GB HBM3;cc=9.0;memory_mib=81559;driver=580.159.04;sms=132'
env -u COMFYUI_ATTENTION_MECHANISM -u AUTOTUNE_SIMULATE_GPU -u AUTOTUNE_SET -u AUTOTUNE_WORKLOADS \
    "$autotune" --report --format html --venv "$venv" --local-dir "$work/local" --cache-dir "$work/shared" \
    --simulate-gpu "$h100" >"$work/report.html"
grep -q '<svg' "$work/report.html"
status=0
"$here/../../../scripts/render_report_png.sh" "$work/report.html" "$work/report.png" 1200 2000 || status=$?
if [ "$status" = 77 ]; then
    echo "SKIPPED: Chromium is not installed (Debian package: chromium)"
    exit 77
fi
[ "$status" = 0 ] || exit "$status"
/usr/bin/python3 "$here/check_png.py" "$work/report.png"

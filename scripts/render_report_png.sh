#!/usr/bin/env bash
# Renders an HTML report (autotune --report --format html) to a PNG with headless Chromium.
#
#   scripts/render_report_png.sh REPORT.html OUT.png [WIDTH [HEIGHT]]
#
# HEIGHT defaults to a guess from the report's length, so the whole page fits one screenshot.
# Needs Debian's `chromium` package (apt-get install -y chromium), or CHROMIUM=/path/to/chrome.
# Exits 77 (the "skipped" code CTest is told about) when no Chromium is found.
set -euo pipefail

if [ $# -lt 2 ] || [ $# -gt 4 ]; then
    echo "usage: $0 REPORT.html OUT.png [WIDTH [HEIGHT]]" >&2
    exit 2
fi
html=$(realpath "$1")
png=$2
width=${3:-1200}
if [ -n "${4:-}" ]; then
    height=$4
else
    # About 18 px per table row or bar, plus headings: generous, white below the end is harmless.
    rows=$(grep -o -E '<tr|<rect|<h[23]|<p' "$html" | wc -l)
    height=$((rows * 22 + 600))
    [ "$height" -lt 2000 ] && height=2000
    [ "$height" -gt 16000 ] && height=16000
fi

chromium=${CHROMIUM:-}
if [ -z "$chromium" ]; then
    for c in chromium chromium-browser google-chrome google-chrome-stable; do
        if command -v "$c" >/dev/null 2>&1; then chromium=$(command -v "$c"); break; fi
    done
fi
if [ -z "$chromium" ]; then
    echo "SKIPPED: no Chromium found (Debian: apt-get install -y chromium; or set CHROMIUM)" >&2
    exit 77
fi

profile=$(mktemp -d)
trap 'rm -rf "$profile"' EXIT
mkdir -p "$(dirname "$png")"
out=$(realpath -m "$png")
# No network is needed or wanted: the report is self-contained; these flags keep Chromium from
# phoning home as well.
timeout 90 "$chromium" --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
    --disable-background-networking --disable-component-update --disable-sync --hide-scrollbars \
    --user-data-dir="$profile" --window-size="$width,$height" --screenshot="$out" "file://$html" \
    >"$profile/chromium.log" 2>&1 || { cat "$profile/chromium.log" >&2; exit 1; }
if [ ! -s "$out" ]; then
    cat "$profile/chromium.log" >&2
    echo "Chromium wrote no screenshot to $out" >&2
    exit 1
fi
echo "$out (${width}x${height})"

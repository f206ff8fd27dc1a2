#!/usr/bin/env bash
# clear_triton_cache.sh against a scratch HOME and root: removes exactly the cache directories,
# reports each, leaves everything else, and is safe to run twice.
set -u
here=$(cd "$(dirname "$0")" && pwd)
script="$here/../../scripts/clear_triton_cache.sh"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
failures=0
fail() { echo "FAIL: $*" >&2; failures=$((failures + 1)); }

root=$work/root
home=$work/home
caches=("$root/root/.triton/cache" "$root/workspace/.triton/cache" "$root/tmp/triton_abc" "$root/tmp/triton_def"
    "$home/.triton/cache" "$home/.cache/torch/kernels" "$home/.nv/ComputeCache")
for dir in "${caches[@]}"; do
    mkdir -p "$dir" && echo data > "$dir/kernel.bin"
done
keep=("$root/tmp/other/file" "$home/.cache/torch/hub/model.pt" "$root/workspace/models/x.safetensors" "$home/.nv/other")
for file in "${keep[@]}"; do
    mkdir -p "$(dirname "$file")" && echo keep > "$file"
done

out=$(HOME=$home CLEAR_CACHE_ROOT=$root bash "$script" 2>&1) || fail "first run exited $?: $out"
for path in "$root/root/.triton" "$root/workspace/.triton" "$root/tmp/triton_abc" "$root/tmp/triton_def" \
    "$home/.triton" "$home/.cache/torch/kernels" "$home/.nv/ComputeCache"; do
    [ ! -e "$path" ] || fail "$path still exists"
    grep -qF "removed $path (" <<< "$out" || fail "output does not report $path: $out"
done
for file in "${keep[@]}"; do
    [ -f "$file" ] || fail "$file was removed"
done

out=$(HOME=$home CLEAR_CACHE_ROOT=$root bash "$script" 2>&1) || fail "second run exited $?: $out"
[ "$out" = "no Triton or torch kernel caches found; nothing to remove" ] || fail "second run said: $out"

# HOME=/root: /root/.triton is one directory, reported once.
mkdir -p "$root/root/.triton/x"
out=$(HOME=$root/root CLEAR_CACHE_ROOT=$root bash "$script" 2>&1) || fail "exited $?: $out"
[ "$(grep -c "removed .*\.triton" <<< "$out")" -eq 1 ] || fail "expected one removal, got: $out"

# No HOME at all: the absolute paths are still handled.
mkdir -p "$root/workspace/.triton"
out=$(env -u HOME CLEAR_CACHE_ROOT="$root" bash "$script" 2>&1) || fail "exited $?: $out"
grep -qF "removed $root/workspace/.triton" <<< "$out" || fail "without HOME: $out"

if [ "$failures" -gt 0 ]; then
    echo "$failures check(s) failed" >&2
    exit 1
fi
echo "clear_triton_cache.sh: all cases passed"

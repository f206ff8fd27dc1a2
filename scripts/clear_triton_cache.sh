#!/usr/bin/env bash
# Removes Triton's and torch's compiled-kernel caches, so the next run recompiles them (after a
# driver, torch, Triton or SageAttention change, stale kernels can fail or run slowly).
# Says what it removed; running it again finds nothing left and says so.
#
# Removes: ~/.triton  /root/.triton  /workspace/.triton  /tmp/triton_*
#          ~/.cache/torch/kernels  ~/.nv/ComputeCache
# CLEAR_CACHE_ROOT prefixes the absolute paths (/root, /workspace, /tmp); tests point it and HOME
# at a scratch directory so that they never touch the real ones.
set -u
shopt -s nullglob

root=${CLEAR_CACHE_ROOT:-}
candidates=("$root/root/.triton" "$root/workspace/.triton" "$root"/tmp/triton_*)
if [ -n "${HOME:-}" ] && [ "$HOME" != / ]; then
    candidates+=("$HOME/.triton" "$HOME/.cache/torch/kernels" "$HOME/.nv/ComputeCache")
fi

removed=0
failed=0
declare -A seen=()
for path in "${candidates[@]}"; do
    # HOME=/root names /root/.triton twice: count each real directory once.
    real=$(realpath -m -- "$path")
    if [ -n "${seen[$real]:-}" ]; then
        continue
    fi
    seen[$real]=1
    if [ -e "$path" ] || [ -L "$path" ]; then
        size=$(du -sh -- "$path" 2>/dev/null | cut -f1)
        if rm -rf -- "$path"; then
            echo "removed $path (${size:-?})"
            removed=$((removed + 1))
        else
            echo "could not remove $path" >&2
            failed=$((failed + 1))
        fi
    fi
done
if [ "$removed" -eq 0 ] && [ "$failed" -eq 0 ]; then
    echo "no Triton or torch kernel caches found; nothing to remove"
fi
[ "$failed" -eq 0 ]

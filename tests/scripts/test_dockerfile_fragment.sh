#!/usr/bin/env bash
# The Dockerfile fragment cannot be built here (no Docker, no CUDA); check that what it refers to
# exists: the CMake options it sets, the build outputs' directories, the files it copies.
set -u
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
fragment=$repo/scripts/Dockerfile.fragment
failures=0
fail() { echo "FAIL: $*" >&2; failures=$((failures + 1)); }

[ -f "$fragment" ] || { echo "FAIL: $fragment missing" >&2; exit 1; }

# Every -DAUTOTUNE_* option must be declared by the project.
while read -r option; do
    grep -q "option($option " "$repo/CMakeLists.txt" || fail "$option is not an option in CMakeLists.txt"
done < <(grep -o -- '-DAUTOTUNE_[A-Z_]*' "$fragment" | sort -u | sed 's/^-D//')

# The executables it installs are built where it looks for them.
grep -q 'add_executable(autotune ' "$repo/boot/CMakeLists.txt" || fail "boot builds no autotune"
grep -q 'add_executable(autotune-bench ' "$repo/worker/CMakeLists.txt" || fail "worker builds no autotune-bench"

# The repository paths it copies exist.
while read -r path; do
    rel=${path#/src/comfyui-attention-autotune/}
    [ -z "$rel" ] || [ -e "$repo/$rel" ] || fail "the fragment copies $rel, which does not exist"
done < <(grep -o '/src/comfyui-attention-autotune/[A-Za-z_./-]*' "$fragment" | sort -u)

# autotune finds its workloads at <bin>/../share/comfyui-attention-autotune/workloads.
grep -q 'share/comfyui-attention-autotune/workloads' "$repo/boot/main.cpp" \
    || fail "autotune no longer looks for share/comfyui-attention-autotune/workloads beside its bin/"

if [ "$failures" -gt 0 ]; then
    exit 1
fi
echo "Dockerfile.fragment: references check out"

#!/usr/bin/env bash
# Sets up a fresh Debian 12 machine and runs the main job, or the tests.
#
#   scripts/setup.sh [autotune arguments...]   install the packages, build into build/, run autotune
#   scripts/setup.sh --test [ctest arguments]  install the packages, build into build/, run ctest;
#                                               then build the C++ tests and the fuzz targets with
#                                               clang, ASan and UBSan into build-sanitize/ and run
#                                               them (each fuzz target a few seconds on its corpus)
#
# Idempotent: packages already installed are not fetched again and the build is incremental.
# Needs root (or sudo) only when packages are missing.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build="$repo/build"

# Compiler and build tools; the boot path (SQLiteCpp, CLI11, nlohmann-json); tests and benchmark;
# the worker (LibTorch and an embeddable CPython, Debian's torch for its tests); shellcheck for the
# scripts' test.
packages=(
  cmake g++ ninja-build
  libsqlitecpp-dev libsqlite3-dev libcli11-dev nlohmann-json3-dev
  libgtest-dev libbenchmark-dev
  libtorch-dev python3-torch python3-numpy python3.11-dev
  shellcheck
)

# Only the tests need these: the HTML report's test renders it in headless Chromium; the node's
# test against the real ComfyUI source imports what ComfyUI imports (tests/node/test_real_comfyui.py);
# the sanitizer and fuzz build needs clang and its runtimes (libFuzzer, ASan, UBSan); the fleet
# torture runs on a real MooseFS (tests/cache/moosefs.py).
[[ ${1:-} == --test ]] && packages+=(chromium python3-av python3-psutil python3-scipy python3-tqdm python3-yaml
  python3-torchvision python3-pil python3-aiohttp python3-packaging clang-14 libclang-rt-14-dev
  moosefs-master moosefs-chunkserver moosefs-client)

install_packages() {
  local missing=() p
  for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
  done
  ((${#missing[@]} == 0)) && return 0
  local sudo=()
  [[ $(id -u) -eq 0 ]] || sudo=(sudo)
  echo "setup.sh: installing ${missing[*]}" >&2
  "${sudo[@]}" apt-get update
  DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y --no-install-recommends "${missing[@]}"
}

build_all() {
  # Debian's torch imports only under /usr/bin/python3; CMake would otherwise prefer a pyenv
  # interpreter found first on PATH (DESIGN.md).
  cmake -S "$repo" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DPython_EXECUTABLE=/usr/bin/python3
  cmake --build "$build" -j"$(nproc)"
}

install_packages
build_all

# The C++ code under AddressSanitizer and UndefinedBehaviorSanitizer, and the libFuzzer targets
# (tests/fuzz), without the worker: LibTorch is not built with the sanitizers, and the parsers
# of outside input are torch-free. A separate directory, so build/ keeps its plain binaries.
build_sanitize() {
  CC=clang-14 CXX=clang++-14 cmake -S "$repo" -B "$sanitize" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DPython_EXECUTABLE=/usr/bin/python3 -DAUTOTUNE_BUILD_WORKER=OFF -DAUTOTUNE_FUZZ=ON
  cmake --build "$sanitize" -j"$(nproc)"
}

if [[ ${1:-} == --test ]]; then
  shift
  sanitize="$repo/build-sanitize"
  status=0
  ctest --test-dir "$build" --output-on-failure -j"$(nproc)" "$@" || status=$?
  build_sanitize
  # The Python and shell tests do not run compiled code of this build: build/ ran them.
  ctest --test-dir "$sanitize" --output-on-failure -j"$(nproc)" -LE 'node|python|scripts' \
    -E '^report_html_renders_in_chromium$' "$@" || status=$?
  exit "$status"
fi
exec "$build/boot/autotune" "$@"

#!/usr/bin/env bash
# Sets up a fresh Debian 12 machine and runs the main job, or the tests.
#
#   scripts/setup.sh [autotune arguments...]   install the packages, build into build/, run autotune
#   scripts/setup.sh --test [ctest arguments]  install the packages, build into build/, run ctest
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

# The HTML report's test renders it in headless Chromium; the fleet torture runs on a real MooseFS
# (tests/cache/moosefs.py); only the tests need them.
[[ ${1:-} == --test ]] && packages+=(chromium moosefs-master moosefs-chunkserver moosefs-client)

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

if [[ ${1:-} == --test ]]; then
  shift
  exec ctest --test-dir "$build" --output-on-failure -j"$(nproc)" "$@"
fi
exec "$build/tuner/boot/autotune" "$@"

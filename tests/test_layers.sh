#!/usr/bin/env bash
# Each top-level source folder is one layer, and a layer's files include only their own layer and
# the layers below it: common < cache < boot, and common < worker (the worker never sees the cache
# or the boot, nor the boot the worker). Also: no include cycle among the project's files.
#
#   tests/test_layers.sh [ROOT]     check the tree at ROOT (default: this repository)
#   tests/test_layers.sh --self-test  check that the check fails on an upward include and a cycle
set -euo pipefail

# What each layer may include, itself first.
declare -A allowed=(
  [common]="common"
  [cache]="cache common"
  [boot]="boot cache common"
  [worker]="worker common"
)

# Prints each violation; returns 1 if there is any.
check() {
  local root=$1 failures=0 layer file line target edges
  edges=$(mktemp)
  for layer in "${!allowed[@]}"; do
    [[ -d $root/$layer ]] || { echo "no layer folder $layer/ in $root"; failures=$((failures + 1)); continue; }
    while IFS= read -r file; do
      while IFS= read -r line; do
        target=$(sed -E 's/^[[:space:]]*#[[:space:]]*include[[:space:]]*["<]([^">]*)[">].*/\1/' <<<"$line")
        if [[ $target == */* ]]; then
          local top=${target%%/*} ok=0 a
          if [[ -n ${allowed[$top]+set} ]]; then
            for a in ${allowed[$layer]}; do [[ $top == "$a" ]] && ok=1; done
            if ((ok == 0)); then
              echo "${file#"$root"/}: includes \"$target\", a layer $layer/ may not include (allowed: ${allowed[$layer]})"
              failures=$((failures + 1))
            fi
          else
            # A folder that is none of the layers: a layer the check would miss.
            echo "${file#"$root"/}: includes \"$target\", in no layer folder (${!allowed[*]})"
            failures=$((failures + 1))
          fi
          [[ -e $root/$target ]] && echo "${file#"$root"/} $target" >>"$edges"
        else
          # Same folder, by its bare name.
          [[ -e $(dirname "$file")/$target ]] && echo "${file#"$root"/} $(dirname "${file#"$root"/}")/$target" >>"$edges"
        fi
      done < <(grep -E '^[[:space:]]*#[[:space:]]*include[[:space:]]*"' "$file" || true)
    done < <(find "$root/$layer" -type f \( -name '*.h' -o -name '*.hpp' -o -name '*.cpp' -o -name '*.c' -o -name '*.h.in' \))
  done
  # tsort names each loop on stderr.
  local loops
  loops=$(tsort "$edges" 2>&1 >/dev/null || true)
  if [[ -n $loops ]]; then
    echo "include cycle:"
    echo "$loops"
    failures=$((failures + 1))
  fi
  rm -f "$edges"
  ((failures == 0))
}

self_test() {
  local dir status=0
  dir=$(mktemp -d)
  trap 'rm -rf "$dir"' RETURN
  mkdir -p "$dir"/{common,cache,boot,worker}
  printf '#include "common/a.h"\n' >"$dir/cache/c.h"
  printf '#include "cache/c.h"\n#include "common/a.h"\n' >"$dir/boot/b.h"
  printf '#include "common/a.h"\n#include <vector>\n' >"$dir/worker/w.h"
  : >"$dir/common/a.h"
  check "$dir" >/dev/null || { echo "self-test: a clean tree fails the check"; status=1; }

  printf '#include "cache/c.h"\n' >"$dir/common/a.h"  # common includes cache: upward
  check "$dir" >/dev/null && { echo "self-test: common/ including cache/ passes the check"; status=1; }
  : >"$dir/common/a.h"
  printf '#include "boot/b.h"\n' >"$dir/worker/w.h"  # worker includes boot: sideways
  check "$dir" >/dev/null && { echo "self-test: worker/ including boot/ passes the check"; status=1; }
  printf '#include "common/a.h"\n' >"$dir/worker/w.h"
  printf '#include "tuner/t.h"\n' >"$dir/cache/c.h"  # a folder outside the layers
  check "$dir" >/dev/null && { echo "self-test: an include of a folder in no layer passes the check"; status=1; }
  printf '#include "common/a.h"\n' >"$dir/cache/c.h"

  printf '#include "x.h"\n' >"$dir/common/y.h"  # common/x.h <-> common/y.h
  printf '#include "common/y.h"\n' >"$dir/common/x.h"
  check "$dir" >/dev/null && { echo "self-test: an include cycle passes the check"; status=1; }
  return "$status"
}

if [[ ${1:-} == --self-test ]]; then
  self_test && echo "the layer check fails on an upward include, a sideways one, one outside the layers, and a cycle"
  exit
fi
root=$(cd "${1:-$(dirname "${BASH_SOURCE[0]}")/..}" && pwd)
check "$root" && echo "no include runs back up a layer; no include cycle"

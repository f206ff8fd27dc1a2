#!/usr/bin/env bash
# Sets up the machine if needed, builds, and runs every test: scripts/setup.sh --test.
set -euo pipefail
exec "$(dirname "${BASH_SOURCE[0]}")/setup.sh" --test "$@"

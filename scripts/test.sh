#!/usr/bin/env bash
# Runs every growc test: installs/builds as needed (scripts/setup.sh), then
# ctest, which runs the lit suite and the GoogleTest binaries and ends on its
# summary line.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=${GROWC_BUILD_DIR:-$root/build}

bash "$root/scripts/setup.sh"
cd "$build"
ctest --output-on-failure -j 2

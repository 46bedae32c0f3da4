#!/usr/bin/env bash
# Runs every growc test: installs/builds as needed (scripts/setup.sh), the
# fuzz stage (scripts/fuzz.sh --ci: each libFuzzer target for a bounded time
# and the runtime's GoogleTests under ASan + UBSan; GROWC_FUZZ_CI=0 skips
# it), then ctest, which runs the lit suite and the GoogleTest binaries and
# ends on its summary line. Fails if either stage fails.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=${GROWC_BUILD_DIR:-$root/build}

bash "$root/scripts/setup.sh"
fuzz_status=0
if [[ ${GROWC_FUZZ_CI:-1} != 0 ]]; then
  bash "$root/scripts/fuzz.sh" --ci || fuzz_status=$?
fi
cd "$build"
ctest --output-on-failure -j 2
if ((fuzz_status != 0)); then
  echo "test: the fuzz stage failed (scripts/fuzz.sh --ci, output above)" >&2
  exit "$fuzz_status"
fi

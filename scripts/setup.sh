#!/usr/bin/env bash
# Installs growc's Debian build dependencies (only the missing ones), then
# configures and builds everything into build/. Idempotent: on a machine that
# has everything it only runs an incremental ninja build.
#
#   bash scripts/setup.sh            # packages + configure + build
#   GROWC_BUILD_DIR=out bash ...     # another build directory
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=${GROWC_BUILD_DIR:-$root/build}

packages=(
  cmake ninja-build clang-22
  llvm-22-dev llvm-22-tools libmlir-22-dev mlir-22-tools
  libgtest-dev libopenblas-dev libopenmpi-dev openmpi-bin libcli11-dev
  libxxhash-dev libonig-dev libclang-rt-22-dev
  python3-torch python3-numpy
  python3-plotly chromium
)

missing=()
for pkg in "${packages[@]}"; do
  status=$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null || true)
  [[ "$status" == "install ok installed" ]] || missing+=("$pkg")
done
if ((${#missing[@]})); then
  echo "setup: installing ${missing[*]}"
  sudo_cmd=()
  [[ $(id -u) -eq 0 ]] || sudo_cmd=(sudo)
  "${sudo_cmd[@]}" apt-get update -q
  DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" \
    apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

# The independent tokenizer implementation test/Tokenizer compares growc's
# with (@huggingface/tokenizers, pinned by its package-lock.json); skipped
# without npm, and then those tests are unsupported.
js="$root/test/Tokenizer/js"
if [[ ! -d "$js/node_modules/@huggingface/tokenizers" ]] && command -v npm >/dev/null; then
  echo "setup: npm ci in $js"
  (cd "$js" && npm ci --no-audit --no-fund --loglevel=error) ||
    echo "setup: npm ci failed: test/Tokenizer/compare-js.test will be unsupported"
fi

if [[ ! -f "$build/build.ninja" ]]; then
  echo "setup: configuring $build"
  cmake -G Ninja -S "$root" -B "$build" \
    -DCMAKE_BUILD_TYPE=Release \
    -DCMAKE_C_COMPILER=clang-22 -DCMAKE_CXX_COMPILER=clang++-22
fi
echo "setup: building (ninja -C $build)"
ninja -C "$build"

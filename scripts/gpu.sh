#!/usr/bin/env bash
# GPU checks and benchmarks, in two halves because the GPU machine has no
# MLIR (docs/gpu.md):
#   bash scripts/gpu.sh prepare   here: build, then put growc-run (with the
#                                 non-system libraries it needs) and the PTX
#                                 artifacts into gpu-kit/
#   bash scripts/gpu.sh run       on the GPU machine (repository root, gpu-kit
#                                 carried): each artifact's forward on the GPU
#                                 against the PyTorch reference, and its
#                                 timing, as a table
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
kit="$root/gpu-kit"
# name config layers batch seq
artifacts=(
  "tiny examples/tiny/config.json 4 2 32"
  "smollm-135m examples/smollm-135m/config.json 30 4 256"
)

case "${1:-}" in
prepare)
  bash "$root/scripts/setup.sh"
  build=${GROWC_BUILD_DIR:-$root/build}
  rm -rf "$kit" && mkdir -p "$kit/bin" "$kit/lib" "$kit/art"
  cp "$build/bin/growc-run" "$kit/bin/"
  # OpenBLAS and its Fortran runtime are not on the GPU image.
  ldd "$build/bin/growc-run" | awk '/openblas|gfortran|quadmath/ {print $3}' |
    while read -r lib; do cp -L "$lib" "$kit/lib/"; done
  for entry in "${artifacts[@]}"; do
    read -r name config layers batch seq <<<"$entry"
    "$build/bin/growc" --import-hf-config "$root/$config" --num-layers "$layers" \
      -o "$kit/art/$name.mlir"
    "$build/bin/growc" "$kit/art/$name.mlir" --graph=forward --batch "$batch" --seq "$seq" \
      -o "$kit/art/$name.ptx"
  done
  du -sh "$kit"
  ;;
run)
  [[ -x "$kit/bin/growc-run" ]] || { echo "gpu.sh: no $kit; run 'prepare' first" >&2; exit 1; }
  export LD_LIBRARY_PATH="$kit/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
  nvidia-smi -L || true
  results="$kit/results.jsonl"
  : >"$results"
  for entry in "${artifacts[@]}"; do
    read -r name config layers batch seq <<<"$entry"
    python3 "$root/bench/gpu_forward.py" --artifact "$kit/art/$name.ptx" \
      --config "$root/$config" --layers "$layers" --batch "$batch" --seq "$seq" \
      --growc-run "$kit/bin/growc-run" | tee -a "$results" || true
  done
  python3 - "$results" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
print("| model | layers | B x T | growc forward (ms) | tokens/s | max rel err vs PyTorch | ok |")
print("|---|---|---|---|---|---|---|")
for r in rows:
    if "error" in r:
        print("| %s | | | error: %s | | | no |" % (r["config"], r["error"].splitlines()[-1]))
    else:
        print("| %s | %d | %dx%d | %.3f | %.0f | %.2e | %s |" % (
            r["config"], r["layers"], r["batch"], r["seq"], r["growc_ms"],
            r["tokens_per_s"], r["max_rel_err"], "yes" if r["ok"] else "NO"))
PY
  ;;
*)
  echo "usage: bash scripts/gpu.sh prepare | run" >&2
  exit 1
  ;;
esac

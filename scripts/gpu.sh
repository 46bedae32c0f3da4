#!/usr/bin/env bash
# GPU checks and benchmarks, in two halves because the GPU machine has no
# MLIR (docs/gpu.md):
#   bash scripts/gpu.sh prepare   here: build, then put growc-run (with the
#                                 non-system libraries it needs) and the PTX
#                                 artifacts into gpu-kit/
#   bash scripts/gpu.sh run       on the GPU machine (repository root, gpu-kit
#                                 carried): each artifact's forward on the GPU
#                                 against the PyTorch reference, and its
#                                 timing; then the grad graph against
#                                 autograd, a short training run, and the
#                                 train step's time against PyTorch eager
#                                 and torch.compile (bench/gpu_train.py), as
#                                 tables
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
kit="$root/gpu-kit"
# name config layers batch seq
artifacts=(
  "tiny examples/tiny/config.json 4 2 32"
  "smollm-135m examples/smollm-135m/config.json 30 4 256"
)
# Train checks: name config layers batch seq check (no: timing only)
train_artifacts=(
  "tiny examples/tiny/config.json 4 2 32 yes"
  "smollm-135m-2l examples/smollm-135m/config.json 2 2 256 yes"
  "smollm-135m-t2048 examples/smollm-135m/config.json 30 4 2048 no"
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
    # fp32 (1e-4 against the reference) and bf16 (1e-2), the GPU default.
    for precision in fp32 bf16; do
      "$build/bin/growc" "$kit/art/$name.mlir" --graph=forward --batch "$batch" \
        --seq "$seq" --precision=$precision -o "$kit/art/$name.$precision.ptx"
    done
  done
  for entry in "${train_artifacts[@]}"; do
    read -r name config layers batch seq check <<<"$entry"
    "$build/bin/growc" --import-hf-config "$root/$config" --num-layers "$layers" \
      -o "$kit/art/$name.mlir"
    for graph in grad train; do
      "$build/bin/growc" "$kit/art/$name.mlir" --graph=$graph --batch "$batch" \
        --seq "$seq" -o "$kit/art/$name.$graph.ptx"
    done
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
    for precision in fp32 bf16; do
      tolerance=1e-4
      [[ $precision == bf16 ]] && tolerance=1e-2
      python3 "$root/bench/gpu_forward.py" --artifact "$kit/art/$name.$precision.ptx" \
        --config "$root/$config" --layers "$layers" --batch "$batch" --seq "$seq" \
        --tolerance $tolerance --growc-run "$kit/bin/growc-run" | tee -a "$results" || true
    done
  done
  python3 - "$results" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
print("| model | layers | B x T | precision | growc forward (ms) | tokens/s | max rel err vs PyTorch | ok |")
print("|---|---|---|---|---|---|---|---|")
for r in rows:
    if "error" in r:
        print("| %s | | | | error: %s | | | no |" % (r["config"], r["error"].splitlines()[-1]))
    else:
        print("| %s | %d | %dx%d | %s | %.3f | %.0f | %.2e | %s |" % (
            r["config"], r["layers"], r["batch"], r["seq"], r["precision"], r["growc_ms"],
            r["tokens_per_s"], r["max_rel_err"], "yes" if r["ok"] else "NO"))
PY
  train_results="$kit/train-results.jsonl"
  : >"$train_results"
  for entry in "${train_artifacts[@]}"; do
    read -r name config layers batch seq check <<<"$entry"
    flags=()
    [[ "$check" == no ]] && flags+=(--no-check --steps 2)
    python3 "$root/bench/gpu_train.py" --grad "$kit/art/$name.grad.ptx" \
      --train "$kit/art/$name.train.ptx" --config "$root/$config" --layers "$layers" \
      --batch "$batch" --seq "$seq" --growc-run "$kit/bin/growc-run" "${flags[@]}" |
      tee -a "$train_results" || true
  done
  python3 - "$train_results" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
print("| model | layers | B x T | grad max rel err | loss first -> last | growc step (ms) | tokens/s | eager (ms) | compile (ms) | vs eager | vs compile | ok |")
print("|---|---|---|---|---|---|---|---|---|---|---|---|")
for r in rows:
    if "error" in r:
        print("| %s | %d | %dx%d | error: %s | | | | | | | | no |" % (
            r["config"], r["layers"], r["batch"], r["seq"], r["error"].splitlines()[-1]))
        continue
    g, e, c = r["growc_step_ms"], r["torch_eager_ms"], r.get("torch_compile_ms")
    print("| %s | %d | %dx%d | %s | %.3f -> %.3f | %.2f | %.0f | %.2f | %s | %.2fx | %s | %s |" % (
        r["config"], r["layers"], r["batch"], r["seq"],
        "%.2e" % r["grad_max_rel_err"] if "grad_max_rel_err" in r else "not checked",
        r["losses"][0], r["losses"][-1], g, r["tokens_per_s"], e,
        "%.2f" % c if c else "n/a", e / g, "%.2fx" % (c / g) if c else "n/a",
        "yes" if r["ok"] else "NO"))
PY
  ;;
*)
  echo "usage: bash scripts/gpu.sh prepare | run" >&2
  exit 1
  ;;
esac

#!/usr/bin/env bash
# GPU checks and benchmarks, in two halves because the GPU machine has no
# MLIR (docs/gpu.md):
#   bash scripts/gpu.sh prepare   here: build, then put growc-run (with the
#                                 non-system libraries it needs), what
#                                 building the runtime needs that a GPU
#                                 image may lack (OpenBLAS's headers,
#                                 GoogleTest) and the PTX artifacts into
#                                 gpu-kit/
#   bash scripts/gpu.sh run       on the GPU machine (repository root, gpu-kit
#                                 carried): builds the runtime there with
#                                 CMake and runs its unit tests (the CUDA
#                                 executor on the real GPU included; the
#                                 carried growc-run is the fallback); then
#                                 each artifact's forward on the GPU
#                                 against the PyTorch reference, and its
#                                 timing; then the grad graph against
#                                 autograd, a short training run, and the
#                                 training loop's step time against PyTorch
#                                 eager and torch.compile, with MFU
#                                 (bench/gpu_train.py); then the training
#                                 loop on the GPU (fp32 and bf16) against
#                                 the same run on the CPU, made by prepare
#                                 (bench/compare_loss_curves.py); as tables
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
kit="$root/gpu-kit"
# name config layers batch seq
artifacts=(
  "tiny examples/tiny/config.json 4 2 32"
  "smollm-135m examples/smollm-135m/config.json 30 4 256"
)
# Train checks: name config layers batch seq check precisions attention
# (check no: timing only; the gradient check runs on an fp32 grad artifact;
# attention: growc --gpu-attention, flash, gemm or mma; mma's kernel has
# bf16 inside, so its fp32 gradient check uses bf16's tolerance)
train_artifacts=(
  "tiny examples/tiny/config.json 4 2 32 yes fp32,bf16 flash"
  "tiny-gemm examples/tiny/config.json 4 2 32 yes fp32,bf16 gemm"
  "tiny-mma examples/tiny/config.json 4 2 32 yes fp32,bf16 mma"
  "smollm-135m-2l examples/smollm-135m/config.json 2 2 256 yes fp32,bf16 flash"
  "smollm-135m-t2048 examples/smollm-135m/config.json 30 4 2048 no bf16 flash"
  "smollm-135m-t2048-gemm examples/smollm-135m/config.json 30 4 2048 no bf16 gemm"
  "smollm-135m-t2048-mma examples/smollm-135m/config.json 30 4 2048 no bf16 mma"
)
# The training loop on both devices: the same data, seed and schedule.
loop_flags=(--data primitives:var-assign-math:0-1 --seed 3 --steps 30 --val-every 10)

case "${1:-}" in
prepare)
  bash "$root/scripts/setup.sh"
  build=${GROWC_BUILD_DIR:-$root/build}
  rm -rf "$kit" && mkdir -p "$kit/bin" "$kit/lib" "$kit/art"
  cp "$build/bin/growc-run" "$kit/bin/"
  # OpenBLAS and its Fortran runtime are not on the GPU image.
  ldd "$build/bin/growc-run" | awk '/openblas|gfortran|quadmath/ {print $3}' |
    while read -r lib; do cp -L "$lib" "$kit/lib/"; done
  # For building the runtime on the GPU machine: OpenBLAS's headers and
  # GoogleTest (a relocatable CMake package).
  cblas_dir=$(sed -n 's/^GROWC_CBLAS_INCLUDE_DIR:PATH=//p' "$build/CMakeCache.txt")
  mkdir -p "$kit/include"
  cp "$cblas_dir"/cblas.h "$cblas_dir"/openblas_config.h "$kit/include/"
  multiarch=lib/x86_64-linux-gnu
  mkdir -p "$kit/gtest/include" "$kit/gtest/$multiarch/cmake"
  cp -r /usr/include/gtest /usr/include/gmock "$kit/gtest/include/"
  cp /usr/$multiarch/libgtest*.a /usr/$multiarch/libgmock*.a "$kit/gtest/$multiarch/"
  cp -r /usr/$multiarch/cmake/GTest "$kit/gtest/$multiarch/cmake/"
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
    read -r name config layers batch seq check precisions attention <<<"$entry"
    "$build/bin/growc" --import-hf-config "$root/$config" --num-layers "$layers" \
      -o "$kit/art/$name.mlir"
    [[ $check == yes ]] && "$build/bin/growc" "$kit/art/$name.mlir" --graph=grad \
      --precision=fp32 --gpu-attention=$attention --batch "$batch" --seq "$seq" \
      -o "$kit/art/$name.grad.ptx"
    for precision in ${precisions//,/ }; do
      "$build/bin/growc" "$kit/art/$name.mlir" --graph=train --precision=$precision \
        --gpu-attention=$attention --batch "$batch" --seq "$seq" \
        -o "$kit/art/$name.train.$precision.ptx"
    done
  done
  # The CPU's run of the training loop that the GPU's must reproduce.
  "$build/bin/growc" "$kit/art/tiny.mlir" --init-weights-out "$kit/art/tiny.w.safetensors"
  "$build/bin/growc" "$kit/art/tiny.mlir" --graph=train --batch 2 --seq 32 \
    -o "$kit/art/tiny.loop.so"
  "$build/bin/growc-run" train "$kit/art/tiny.loop.so" --weights "$kit/art/tiny.w.safetensors" \
    "${loop_flags[@]}" --metrics "$kit/art/tiny.loop.cpu.jsonl" --out "$kit/art/tiny.loop.cpu.safetensors"
  rm "$kit/art/tiny.loop.so" "$kit/art/tiny.loop.so.plan.json"
  # The libraries compressed (36 MB of OpenBLAS becomes 12), so that the kit
  # and the repository stay well under the device's 64 MiB carry limit;
  # 'run' unpacks them.
  tar -C "$kit" -czf "$kit/lib.tgz" lib && rm -rf "$kit/lib"
  du -sh "$kit"
  ;;
run)
  [[ -x "$kit/bin/growc-run" ]] || { echo "gpu.sh: no $kit; run 'prepare' first" >&2; exit 1; }
  [[ -d "$kit/lib" ]] || tar -C "$kit" -xzf "$kit/lib.tgz"
  export LD_LIBRARY_PATH="$kit/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
  nvidia-smi -L || true
  # The runtime built here (no MLIR needed) and its unit tests, on the GPU.
  growc_run="$kit/bin/growc-run"
  if command -v cmake >/dev/null &&
    cmake -S "$root/runtime" -B "$kit/build" -DCMAKE_BUILD_TYPE=Release \
      -DGROWC_OPENBLAS="$kit/lib/libopenblas.so.0" -DGROWC_CBLAS_INCLUDE_DIR="$kit/include" \
      -DGTest_DIR="$kit/gtest/lib/x86_64-linux-gnu/cmake/GTest" >"$kit/build.log" 2>&1 &&
    cmake --build "$kit/build" -j "$(nproc)" >>"$kit/build.log" 2>&1; then
    growc_run="$kit/build/growc-run"
    echo "gpu.sh: built the runtime on this machine; its unit tests:"
    (cd "$kit/build" && ctest --output-on-failure -j "$(nproc)" 2>&1 | tail -25) || true
  else
    echo "gpu.sh: building the runtime here failed (see $kit/build.log);" \
      "using the carried growc-run" >&2
  fi
  results="$kit/results.jsonl"
  : >"$results"
  for entry in "${artifacts[@]}"; do
    read -r name config layers batch seq <<<"$entry"
    for precision in fp32 bf16; do
      tolerance=1e-4
      [[ $precision == bf16 ]] && tolerance=1e-2
      python3 "$root/bench/gpu_forward.py" --artifact "$kit/art/$name.$precision.ptx" \
        --config "$root/$config" --layers "$layers" --batch "$batch" --seq "$seq" \
        --tolerance $tolerance --growc-run "$growc_run" | tee -a "$results" || true
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
    read -r name config layers batch seq check precisions attention <<<"$entry"
    for precision in ${precisions//,/ }; do
      flags=(--precision "$precision" --label "$name")
      if [[ "$check" == yes && $precision == fp32 ]]; then
        flags+=(--grad "$kit/art/$name.grad.ptx")
        [[ $attention == mma ]] && flags+=(--grad-tolerance 1e-2)
      else
        flags+=(--no-check)
      fi
      [[ "$check" == no ]] && flags+=(--steps 2)
      flags+=(--profile "$kit/$name.$precision.profile.json")
      python3 "$root/bench/gpu_train.py" --train "$kit/art/$name.train.$precision.ptx" \
        --config "$root/$config" --layers "$layers" --batch "$batch" --seq "$seq" \
        --growc-run "$growc_run" "${flags[@]}" | tee -a "$train_results" || true
    done
  done
  python3 - "$train_results" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
print("| model | layers | B x T | precision | grad max rel err | loss first -> last | growc step (ms) | tokens/s | MFU | eager (ms) | compile (ms) | vs eager | vs compile | kernels vs copy BW | GEMMs vs best | ok |")
print("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
for r in rows:
    if "error" in r:
        print("| %s | %d | %dx%d | %s | error: %s | | | | | | | | | | | no |" % (
            r["config"], r["layers"], r["batch"], r["seq"], r["precision"],
            r["error"].splitlines()[-1]))
        continue
    g, e, c = r["growc_step_ms"], r["torch_eager_ms"], r.get("torch_compile_ms")
    p = r.get("profile", {})
    bw = ("%.0f%% (%.0f%% of time at >= 75%%)" % (100 * p["memory_bound_copy_fraction"],
                                                  100 * p["memory_bound_time_at_target"])
          if "memory_bound_copy_fraction" in p else "n/a")
    gemm = ("%.2fx (worst %.2fx)" % (p["gemm_ms"] / p["gemm_best_ms"], p["gemm_worst_ratio"])
            if p.get("gemm_best_ms") else "n/a")
    print("| %s | %d | %dx%d | %s | %s | %.3f -> %.3f | %.2f | %.0f | %s | %.2f | %s | %.2fx | %s | %s | %s | %s |" % (
        r["config"], r["layers"], r["batch"], r["seq"], r["precision"],
        "%.2e" % r["grad_max_rel_err"] if "grad_max_rel_err" in r else "not checked",
        r["losses"][0], r["losses"][-1], g, r["tokens_per_s"],
        "%.1f%%" % (100 * r["mfu"]) if "mfu" in r else "n/a", e,
        "%.2f" % c if c else "n/a", e / g, "%.2fx" % (c / g) if c else "n/a",
        bw, gemm, "yes" if r["ok"] else "NO"))
PY
  # The training loop (data, schedule, commits on the device, validation)
  # against the CPU's run: fp32 within reduction-order noise, bf16 within
  # its rounding.
  loop_results="$kit/loop-results.jsonl"
  : >"$loop_results"
  for variant in tiny tiny-gemm; do
    for precision in fp32 bf16; do
      tolerance=2e-3
      [[ $precision == bf16 ]] && tolerance=2e-2
      metrics="$kit/$variant.loop.$precision.jsonl"
      if "$growc_run" train "$kit/art/$variant.train.$precision.ptx" \
        --weights "$kit/art/tiny.w.safetensors" "${loop_flags[@]}" --metrics "$metrics" \
        --out "$kit/$variant.loop.$precision.safetensors"; then
        python3 "$root/bench/compare_loss_curves.py" "$kit/art/tiny.loop.cpu.jsonl" \
          "$metrics" --tolerance $tolerance --label "$variant $precision" |
          tee -a "$loop_results" || true
      else
        echo "{\"label\": \"$variant $precision\", \"error\": \"growc-run train failed\"}" |
          tee -a "$loop_results"
      fi
    done
  done
  python3 - "$loop_results" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
print("| training loop on the GPU vs the CPU | steps | CPU loss first -> last | GPU last | max rel diff (loss / val) | tolerance | ok |")
print("|---|---|---|---|---|---|---|")
for r in rows:
    if "error" in r:
        print("| %s | | error: %s | | | | no |" % (r["label"], r["error"]))
    else:
        print("| %s | %d | %.3f -> %.3f | %.3f | %.1e / %.1e | %.0e | %s |" % (
            r["label"], r["steps"], r["first_loss"], r["last_loss"], r["run_last_loss"],
            r["max_rel_diff_loss"], r["max_rel_diff_val_loss"], r["tolerance"],
            "yes" if r["ok"] else "NO"))
PY
  ;;
*)
  echo "usage: bash scripts/gpu.sh prepare | run" >&2
  exit 1
  ;;
esac

#!/usr/bin/env bash
# Compiles a fixed matrix of growc artifacts into one folder and prints a
# sha256 of every file, so a restructuring can be checked to keep behaviour:
# run it before and after and diff the two lists (STYLE: "compare artifacts
# byte for byte before and after").
#
#   bash scripts/artifact-snapshot.sh OUT_DIR [BIN_DIR]   # BIN_DIR: build/bin
#   diff before/SHA256SUMS after/SHA256SUMS
#
# The matrix: tied and untied models, a grown model (LIDAS and MIDAS), every
# graph (forward, loss, grad, train, accumulated train), the CPU .so, the
# GPU-shaped .so, PTX (bf16 with the tensor-core attention, fp32, the GEMM
# attention form), a growth run's stages, the analysis suite, the IR after
# growth and a migrated checkpoint. PTX needs libdevice (CUDA toolkit); where
# it is missing those entries are skipped and say so.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
out=${1:?usage: artifact-snapshot.sh OUT_DIR [BIN_DIR]}
bin=${2:-$root/build/bin}
growc="$bin/growc"
growc_opt="$bin/growc-opt"
inputs="$root/test/Lowering/Inputs"
rm -rf "$out" && mkdir -p "$out"
cd "$out"

have_ptx=1
if [[ ! -f /usr/local/cuda/nvvm/libdevice/libdevice.10.bc &&
      -z "${CUDA_HOME:-}" ]]; then
  have_ptx=0
  echo "artifact-snapshot: no libdevice; PTX entries skipped" >&2
fi

step() { echo "artifact-snapshot: $*" >&2; }

# Models: tied (gqa2), untied (hd32), tiny example; 2 and 4 layers.
"$growc" --import-hf-config "$inputs/gqa2-tied.json" --num-layers 4 \
  --block-size 2 -o tied.mlir
"$growc" --import-hf-config "$inputs/mha-hd32-untied.json" --num-layers 2 \
  --block-size 1 -o untied.mlir
"$growc" --import-hf-config "$root/examples/tiny/config.json" --num-layers 4 \
  --block-size 2 -o tiny.mlir
"$growc" tiny.mlir --init-weights-out tiny.safetensors --seed 3
"$growc" tiny.mlir --grow=lidas --grow-steps=1 --emit=mlir \
  -o tiny-lidas.mlir --weights-in tiny.safetensors \
  --weights-out tiny-lidas.safetensors --quiet
"$growc" tied.mlir --grow=midas --grow-steps=2 --emit=mlir -o tied-midas.mlir \
  --quiet
"$growc" untied.mlir --grow=gradstack --emit=mlir -o untied-gs.mlir --quiet

for model in tied untied tiny-lidas tied-midas; do
  for graph in forward loss grad train; do
    step "$model $graph"
    "$growc" $model.mlir --graph=$graph --batch 2 --seq 16 --key-block 8 \
      -o $model-$graph-cpu.so
    "$growc" $model.mlir --graph=$graph --batch 2 --seq 16 --key-block 8 \
      --kernel-form=gpu --gpu-threads=32 -o $model-$graph-gpuform.so
    if ((have_ptx)); then
      "$growc" $model.mlir --graph=$graph --batch 2 --seq 16 \
        -o $model-$graph.ptx 2>/dev/null
      "$growc" $model.mlir --graph=$graph --batch 2 --seq 16 \
        --precision=fp32 -o $model-$graph-fp32.ptx
      "$growc" $model.mlir --graph=$graph --batch 2 --seq 16 \
        --gpu-attention=gemm -o $model-$graph-gemm.ptx
    fi
  done
  "$growc" $model.mlir --graph=train --batch 2 --seq 16 --accumulate 2 \
    --all-reduce-bucket-mb 0.01 -o $model-train-acc.so
  "$growc" $model.mlir --graph=loss --batch 2 --seq 16 --loss-rows 12 \
    -o $model-loss-chunked.so
done

step "growth run"
"$growc" tiny.mlir --grow=lidas --stages=2 --batch 2 --seq 16 --quiet \
  -o run.so
if ((have_ptx)); then
  "$growc" tiny.mlir --grow=midas --stages=2 --batch 2 --seq 16 --quiet \
    -o runptx.ptx
fi
step "analysis suite"
"$growc" tiny.mlir --analysis-suite --batch 1 --seq 16 --quiet -o suite.so
"$growc" tied.mlir --analysis-passes='growc-swap-layer-windows{position=0 size=2},growc-scale-layer-norms,growc-add-early-exit-heads' \
  --emit=mlir -o tied-analysis.mlir

step "tensor-level IR"
"$growc_opt" tied.mlir \
  --growc-lower-model-to-tensors='batch=2 seq=8 graph=train' \
  -o tied-train-tensors.mlir

sha256sum $(ls | sort) > SHA256SUMS
echo "artifact-snapshot: $(wc -l < SHA256SUMS) files in $out"

#!/usr/bin/env bash
# The main job on the built-in example: import the tiny Llama config, give it
# seeded initial weights, grow it with LIDAS and migrate the checkpoint by
# the provenance table, show what changed and the growth schedule a
# SmolLM-1.7B run would follow, then compile the grown model to PTX for
# sm_90 (checked by ptxas when the CUDA toolkit is there) and to native CPU
# kernels, and run its forward pass on the CPU; finally train the tiny model
# on built-in primitive data in a gradual LIDAS growth run (three stages on
# the Prop-1 schedule). Everything lands in out/demo/.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=${GROWC_BUILD_DIR:-$root/build}
out=${GROWC_DEMO_DIR:-$root/out/demo}

bash "$root/scripts/setup.sh"
growc="$build/bin/growc"
mkdir -p "$out"

echo
echo "== 1. import examples/tiny/config.json (4 layers, blocks of 2)"
"$growc" --import-hf-config "$root/examples/tiny/config.json" \
  --num-layers 4 --block-size 2 --model-name tiny -o "$out/tiny.mlir"
"$growc" "$out/tiny.mlir" --init-weights-out "$out/tiny.safetensors" --seed 0
grep -E "grow\.(model|layer)" "$out/tiny.mlir"

echo
echo "== 2. grow it with LIDAS, two steps (4 -> 8 layers), migrating the weights"
"$growc" "$out/tiny.mlir" --grow=lidas --grow-steps=2 --print-lineage \
  --weights-in "$out/tiny.safetensors" \
  --weights-out "$out/tiny-lidas.safetensors" \
  --emit=mlir -o "$out/tiny-lidas.mlir"

echo
echo "== 3. what changed: each new layer and where its weights come from"
grep -E "grow\.layer" "$out/tiny-lidas.mlir"
grep -E "self_attn\.q_proj" "$out/tiny-lidas.mlir" | sed 's/ : tensor<[^>]*>//'

echo
echo "== 4. the Prop-alpha schedule of a SmolLM-1.7B LIDAS run (b = 4, 6 stages)"
"$growc" --import-hf-config "$root/examples/smollm-1.7b/config.json" \
  -o "$out/smollm-1.7b.mlir"
"$growc" "$out/smollm-1.7b.mlir" --print-schedule --total-steps 100000

echo
echo "== 5. compile the grown model to native CPU kernels and run its forward pass"
"$growc" "$out/tiny-lidas.mlir" --graph=forward --batch 2 --seq 32 -o "$out/tiny-lidas.so"
/usr/bin/python3 - "$root" "$out/tokens.safetensors" <<'PY'
import sys
sys.path.insert(0, sys.argv[1] + "/test/Reference")
import numpy as np
import llama_reference
text = [list(b"growth is data"), list(b"layers repeat!")]
llama_reference.write_safetensors(sys.argv[2], {"tokens": np.array(text, dtype=np.int32)})
PY
"$build/bin/growc-run" forward "$out/tiny-lidas.so" \
  --weights "$out/tiny-lidas.safetensors" --tokens "$out/tokens.safetensors" \
  --out "$out/logits.safetensors" --verbose
python3 -c "import json; p = json.load(open('$out/tiny-lidas.so.plan.json')); \
print('plan: %d kernels, %d steps, arena %.1f MB' % (len(p['kernels']), len(p['steps']), p['arena_size'] / 1e6))"

echo
echo "== 6. compile the grown model's training step (the default graph) to PTX for"
echo "      sm_90: kernels + launch plan"
mkdir -p "$out/gpu"
if "$growc" "$out/tiny-lidas.mlir" --batch 2 --seq 32 \
    -o "$out/gpu/tiny-lidas.ptx" 2>"$out/gpu/error.txt"; then
  ptx="$out/gpu/tiny-lidas.ptx"
  echo "wrote $ptx: $(grep '\.entry' "$ptx" | grep -vc 'growc_flash') generated kernels + $(grep -c '\.entry growc_flash' "$ptx") tensor-core attention kernels (the library), $(grep -m1 '^\.target' "$ptx")"
  ptxas=$(command -v ptxas || echo "${CUDA_HOME:-/usr/local/cuda}/bin/ptxas")
  if [ -x "$ptxas" ]; then
    "$ptxas" -arch=sm_90 "$out/gpu/tiny-lidas.ptx" -o /dev/null
    echo "ptxas -arch=sm_90: accepted"
  fi
else
  # Only the CUDA toolkit's libdevice is missing on machines without it.
  echo "no PTX on this machine: $(tail -1 "$out/gpu/error.txt")"
fi

echo
echo "== 7. train the tiny model on built-in reasoning primitives with gradual LIDAS"
echo "      growth: 3 stages (4 -> 6 -> 8 layers) on the Prop-1 schedule, weights and"
echo "      AdamW moments migrated at each stage boundary inside the run"
run_dir="$out/train"
mkdir -p "$run_dir"
"$growc" "$out/tiny.mlir" --graph=train --grow=lidas --stages=3 --batch 8 --seq 64 \
  -o "$run_dir/run.so"
"$build/bin/growc-run" train "$run_dir/run.so" --grow=lidas --stages 3 --alpha 1 \
  --grow-fraction 0.8 --weights "$out/tiny.safetensors" \
  --data primitives:var-assign-math:0-1 --steps 300 --lr 3e-3 --val-every 50 \
  --metrics "$run_dir/metrics.jsonl" --out "$run_dir/final.safetensors"
echo "checkpoint: $run_dir/final.safetensors (8 layers, AdamW moments, step 300)"

echo
echo "demo: outputs in $out"

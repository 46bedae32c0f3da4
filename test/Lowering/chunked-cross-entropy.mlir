// RUN: growc --import-hf-config %S/Inputs/gqa2-tied.json --num-layers 1 --block-size 1 --model-name one -o %t.mlir
// RUN: growc-opt %t.mlir --growc-lower-model-to-tensors="batch=1 seq=4 graph=loss vocab-chunk=4" | FileCheck %s --check-prefix=LOSS
// RUN: growc-opt %t.mlir --growc-lower-model-to-tensors="batch=1 seq=4 graph=grad vocab-chunk=4" | FileCheck %s --check-prefix=GRAD
// RUN: growc-opt %t.mlir --growc-lower-model-to-tensors="batch=1 seq=4 graph=grad vocab-chunk=3" --growc-form-kernels | FileCheck %s --check-prefix=KERNELS
// RUN: growc-opt %t.mlir --growc-lower-model-to-tensors="batch=1 seq=4 graph=grad vocab-chunk=0" | FileCheck %s --check-prefix=WHOLE
// RUN: growc-opt %t.mlir --growc-lower-model-to-tensors="batch=1 seq=4 vocab-chunk=4" | FileCheck %s --check-prefix=FORWARD
// RUN: growc-opt %t.mlir --growc-lower-model-to-tensors="batch=80000 seq=64 graph=loss" | FileCheck %s --check-prefix=FITS
// RUN: growc-opt %t.mlir --growc-lower-model-to-tensors="batch=100000 seq=64 graph=loss" | FileCheck %s --check-prefix=AUTO
// RUN: growc --import-hf-config %examples/smollm-135m/config.json --num-layers 1 --block-size 1 --model-name smol -o %t.smol.mlir
// RUN: growc-opt %t.smol.mlir --growc-lower-model-to-tensors="batch=12 seq=250 graph=loss" | FileCheck %s --check-prefix=AUTO64
// RUN: not growc-opt %t.mlir --growc-lower-model-to-tensors="graph=loss vocab-chunk=-1" 2>&1 | FileCheck %s --check-prefix=NEGATIVE

// The cross-entropy of the loss, grad and train graphs takes the LM head
// (the tied embedding, [V = 11, D = 16]) `vocab-chunk` rows at a time, so
// the [B*T, V] logits never exist. With chunks of 4: rows [0, 4), [4, 8)
// and a last chunk of 3.

// First the number of scored rows, a reduction over all rows in a kernel
// of its own. Then per chunk: a GEMM on a row slice of the weight, the
// chunk's row max, the running max, the sum of exponentials rescaled to it,
// the target's logit if the target (shifted by the chunk's first column)
// falls in the chunk, and the targets shifted for the next chunk.
// LOSS-LABEL: func.func @one(
// LOSS-SAME: -> tensor<1xf32>
// LOSS: linalg.generic {{.*}} ins(%{{.*}} : tensor<4xi32>) outs(%{{.*}} : tensor<1xf32>) attrs =  {growc.own_kernel}
// LOSS: %[[W0:.+]] = tensor.extract_slice %arg2[0, 0] [4, 16] [1, 1] : tensor<11x16xf32> to tensor<4x16xf32>
// LOSS: %[[L0:.+]] = growk.matmul %{{.*}}, %[[W0]] : tensor<4x16xf32>, tensor<4x16xf32> -> tensor<4x4xf32>
// LOSS: arith.maximumf
// LOSS: math.exp
// LOSS: arith.cmpi slt, %{{.*}}, %c4_i32 : i32
// LOSS: tensor.extract %[[L0]]
// LOSS: arith.subi %{{.*}}, %c4_i32 : i32
// LOSS: %[[W1:.+]] = tensor.extract_slice %arg2[4, 0] [4, 16] [1, 1] : tensor<11x16xf32> to tensor<4x16xf32>
// LOSS: growk.matmul %{{.*}}, %[[W1]] : tensor<4x16xf32>, tensor<4x16xf32> -> tensor<4x4xf32>
// LOSS: arith.maximumf
// Rescaling the sum so far: s * exp(m_old - m_new) + the chunk's sum.
// LOSS: linalg.generic {{.*}} ins(%{{.*}}, %{{.*}}, %{{.*}}, %{{.*}} : tensor<4xf32>, tensor<4xf32>, tensor<4xf32>, tensor<4xf32>)
// LOSS-NEXT: ^bb0
// LOSS-NEXT: %[[DIFF:.+]] = arith.subf
// LOSS-NEXT: %[[SCALE:.+]] = math.exp %[[DIFF]]
// LOSS-NEXT: %[[OLD:.+]] = arith.mulf %{{.*}}, %[[SCALE]]
// LOSS-NEXT: arith.addf %[[OLD]]
// LOSS: %[[W2:.+]] = tensor.extract_slice %arg2[8, 0] [3, 16] [1, 1] : tensor<11x16xf32> to tensor<3x16xf32>
// LOSS: growk.matmul %{{.*}}, %[[W2]] : tensor<4x16xf32>, tensor<3x16xf32> -> tensor<4x3xf32>
// LOSS: arith.cmpi slt, %{{.*}}, %c3_i32 : i32
// The log-sum-exp, each row's nll and their mean, a kernel of its own.
// LOSS: math.log
// LOSS: linalg.generic {{.*}} ins(%{{.*}}, %{{.*}} : tensor<4xf32>, tensor<1xf32>) outs(%{{.*}} : tensor<1xf32>) attrs =  {growc.own_kernel}
// LOSS: return %{{.*}} : tensor<1xf32>
// LOSS-NOT: tensor<4x11xf32>

// The gradient: the last chunk's logits are still live, so its logit
// gradient comes straight after the forward and only the other chunks are
// recomputed, last first. Each chunk writes its rows of the head's weight
// gradient (an insert_slice of dlogitsᵀ · normed) and accumulates
// dlogits · W_c into d normed (the GEMM's acc).
// GRAD-LABEL: func.func @one(
// GRAD: %[[W0F:.+]] = tensor.extract_slice %arg2[0, 0] [4, 16] [1, 1]
// GRAD: growk.matmul %[[NORMED:[^,]+]], %[[W0F]]
// GRAD: %[[W2:.+]] = tensor.extract_slice %arg2[8, 0] [3, 16] [1, 1]
// GRAD: %[[L2:.+]] = growk.matmul %[[NORMED]], %[[W2]] : tensor<4x16xf32>, tensor<3x16xf32> -> tensor<4x3xf32>
// GRAD: math.log
// GRAD: %[[DL2:.+]] = linalg.generic {{.*}} ins(%[[L2]], {{.*}} outs(%{{.*}} : tensor<4x3xf32>)
// GRAD: math.exp
// GRAD: arith.divf
// GRAD: attrs =  {growc.own_kernel}
// GRAD: %[[EMPTY:.+]] = tensor.empty() : tensor<11x16xf32>
// GRAD: %[[W2B:.+]] = tensor.extract_slice %arg2[8, 0] [3, 16] [1, 1]
// GRAD: %[[DW2:.+]] = growk.matmul %[[DL2]], %[[NORMED]] {transpose_lhs = true, transpose_rhs = false} : tensor<4x3xf32>, tensor<4x16xf32> -> tensor<3x16xf32>
// GRAD: %[[G2:.+]] = tensor.insert_slice %[[DW2]] into %[[EMPTY]][8, 0] [3, 16] [1, 1]
// GRAD: %[[DN2:.+]] = growk.matmul %[[DL2]], %[[W2B]] {transpose_rhs = false} : tensor<4x3xf32>, tensor<3x16xf32> -> tensor<4x16xf32>
// GRAD: %[[W1:.+]] = tensor.extract_slice %arg2[4, 0] [4, 16] [1, 1]
// GRAD: %[[L1:.+]] = growk.matmul %[[NORMED]], %[[W1]] : tensor<4x16xf32>, tensor<4x16xf32> -> tensor<4x4xf32>
// GRAD: %[[DL1:.+]] = linalg.generic {{.*}} ins(%[[L1]], {{.*}} outs(%{{.*}} : tensor<4x4xf32>)
// GRAD: %[[DW1:.+]] = growk.matmul %[[DL1]], %[[NORMED]] {transpose_lhs = true, transpose_rhs = false}
// GRAD: %[[G1:.+]] = tensor.insert_slice %[[DW1]] into %[[G2]][4, 0] [4, 16] [1, 1]
// GRAD: %[[DN1:.+]] = growk.matmul %[[DL1]], %[[W1]] acc(%[[DN2]] : tensor<4x16xf32>) {transpose_rhs = false}
// GRAD: %[[W0:.+]] = tensor.extract_slice %arg2[0, 0] [4, 16] [1, 1]
// GRAD: %[[L0:.+]] = growk.matmul %[[NORMED]], %[[W0]]
// GRAD: %[[DL0:.+]] = linalg.generic {{.*}} ins(%[[L0]]
// GRAD: %[[DW0:.+]] = growk.matmul %[[DL0]], %[[NORMED]] {transpose_lhs = true, transpose_rhs = false}
// GRAD: %[[G0:.+]] = tensor.insert_slice %[[DW0]] into %[[G1]][0, 0] [4, 16] [1, 1]
// GRAD: growk.matmul %[[DL0]], %[[W0]] acc(%[[DN1]] : tensor<4x16xf32>) {transpose_rhs = false}
// The tied embedding's gradient adds the head's.
// GRAD: linalg.generic {{.*}} ins(%[[G0]], %{{.*}} : tensor<11x16xf32>, tensor<11x16xf32>)
// GRAD: return
// GRAD-NOT: tensor<4x11xf32>

// Kernel formation keeps the weight's and the gradient's slices on the host
// (the plan addresses them as a buffer and an offset) and the chunks share
// kernels: with chunks of 3 (3, 3, 3 and 2 rows), the middle chunks' forward
// and the recomputed chunks' gradient are one kernel each.
// KERNELS-LABEL: func.func @one(
// KERNELS: call @[[COUNT:[a-z_]+_[0-9]+]](%arg1) : (tensor<1x4xi32>) -> tensor<1xf32>
// KERNELS: tensor.extract_slice %arg2[0, 0] [3, 16]
// KERNELS: growk.matmul
// KERNELS: call @[[FIRST:[a-z_]+_[0-9]+]](
// KERNELS: tensor.extract_slice %arg2[3, 0] [3, 16]
// KERNELS: growk.matmul
// KERNELS: call @[[MIDDLE:[a-z_]+_[0-9]+]](
// KERNELS: tensor.extract_slice %arg2[6, 0] [3, 16]
// KERNELS: growk.matmul
// KERNELS: call @[[MIDDLE]](
// KERNELS: tensor.extract_slice %arg2[9, 0] [2, 16]
// KERNELS: growk.matmul
// KERNELS: call @[[LAST:[a-z_]+_[0-9]+]](
// KERNELS: call @[[MEAN:[a-z_]+_[0-9]+]](
// KERNELS: tensor.insert_slice %{{.*}} into %{{.*}}[9, 0] [2, 16]
// KERNELS: call @[[DLOGITS:[a-z_]+_[0-9]+]](
// KERNELS: tensor.insert_slice %{{.*}} into %{{.*}}[6, 0] [3, 16]
// KERNELS: call @[[DLOGITS]](
// KERNELS: tensor.insert_slice %{{.*}} into %{{.*}}[3, 0] [3, 16]
// KERNELS: call @[[DLOGITS]](
// KERNELS: tensor.insert_slice %{{.*}} into %{{.*}}[0, 0] [3, 16]

// vocab-chunk=0, the default, is automatic: logits that fit in 256 MiB
// (here [4, 11]) are one chunk, the whole head, no slices and nothing
// recomputed: one head GEMM and the two gradient GEMMs.
// WHOLE-LABEL: func.func @one(
// WHOLE-NOT: tensor.extract_slice %arg2
// WHOLE: %[[L:.+]] = growk.matmul %{{.*}}, %arg2 : tensor<4x16xf32>, tensor<11x16xf32> -> tensor<4x11xf32>
// WHOLE: %[[DL:.+]] = linalg.generic {{.*}} ins(%[[L]], {{.*}} outs(%{{.*}} : tensor<4x11xf32>)
// WHOLE: growk.matmul %[[DL]], %{{.*}} {transpose_lhs = true, transpose_rhs = false} : tensor<4x11xf32>, tensor<4x16xf32> -> tensor<11x16xf32>
// WHOLE-NEXT: growk.matmul %[[DL]], %arg2 {transpose_rhs = false} : tensor<4x11xf32>, tensor<11x16xf32> -> tensor<4x16xf32>
// WHOLE-NOT: growk.matmul %{{.*}}, %arg2 : tensor<4x16xf32>, tensor<11x16xf32>

// The forward graph returns the full logits whatever the chunk.
// FORWARD-LABEL: func.func @one(
// FORWARD-SAME: -> tensor<1x4x11xf32>
// FORWARD-NOT: tensor.extract_slice %arg1
// FORWARD: growk.matmul %{{.*}}, %arg1 : tensor<4x16xf32>, tensor<11x16xf32> -> tensor<4x11xf32>

// Up to 256 MiB of logits stay whole (B*T = 5,120,000 rows: 225 MB) ...
// FITS-LABEL: func.func @one(
// FITS-NOT: tensor.extract_slice %arg2
// FITS: growk.matmul {{.*}} : tensor<5120000x16xf32>, tensor<11x16xf32> -> tensor<5120000x11xf32>
// ... larger logits are chunked to at most 64 MiB each: with 6,400,000 rows
// (282 MB), 2 vocabulary rows per chunk and a last chunk of 1 ...
// AUTO-LABEL: func.func @one(
// AUTO: tensor.extract_slice %arg2[0, 0] [2, 16] [1, 1] : tensor<11x16xf32> to tensor<2x16xf32>
// AUTO: growk.matmul {{.*}} : tensor<6400000x16xf32>, tensor<2x16xf32> -> tensor<6400000x2xf32>
// AUTO: tensor.extract_slice %arg2[2, 0] [2, 16]
// AUTO: tensor.extract_slice %arg2[10, 0] [1, 16] [1, 1] : tensor<11x16xf32> to tensor<1x16xf32>
// AUTO-NOT: tensor<6400000x11xf32>
// ... in a multiple of 64 rows when that many fit: SmolLM-135M's head
// (V = 49152) at B*T = 3000 (590 MB of logits) takes 5592 rows per 64 MiB,
// rounded down to 5568: 8 chunks and a last one of 4608 rows.
// AUTO64-LABEL: func.func @smol(
// AUTO64: tensor.extract_slice %arg2[0, 0] [5568, 576] [1, 1] : tensor<49152x576xf32> to tensor<5568x576xf32>
// AUTO64: growk.matmul {{.*}} -> tensor<3000x5568xf32>
// AUTO64: tensor.extract_slice %arg2[44544, 0] [4608, 576] [1, 1] : tensor<49152x576xf32> to tensor<4608x576xf32>
// AUTO64-NOT: tensor<3000x49152xf32>

// NEGATIVE: error: growc-lower-model-to-tensors: vocab-chunk must be non-negative (0: automatic)

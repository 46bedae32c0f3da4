// RUN: growc --import-hf-config %S/Inputs/gqa2-tied.json --num-layers 1 --block-size 1 --model-name one -o %t.mlir
// RUN: growc-opt %t.mlir --growc-lower-model-to-tensors="batch=2 seq=4 graph=loss loss-rows=3" | FileCheck %s --check-prefix=LOSS
// RUN: growc-opt %t.mlir --growc-lower-model-to-tensors="batch=2 seq=4 graph=grad loss-rows=3" | FileCheck %s --check-prefix=GRAD
// RUN: growc-opt %t.mlir --growc-lower-model-to-tensors="batch=2 seq=4 graph=grad loss-rows=3" --growc-form-kernels | FileCheck %s --check-prefix=KERNELS
// RUN: growc-opt %t.mlir --growc-lower-model-to-tensors="batch=2 seq=4 graph=grad loss-rows=4" --growc-form-kernels | FileCheck %s --check-prefix=EVEN
// RUN: growc-opt %t.mlir --growc-lower-model-to-tensors="batch=1 seq=4 graph=grad loss-rows=0" | FileCheck %s --check-prefix=WHOLE
// RUN: growc-opt %t.mlir --growc-lower-model-to-tensors="batch=1 seq=4 loss-rows=2" | FileCheck %s --check-prefix=FORWARD
// RUN: growc-opt %t.mlir --growc-lower-model-to-tensors="batch=80000 seq=64 graph=loss" | FileCheck %s --check-prefix=FITS
// RUN: growc-opt %t.mlir --growc-lower-model-to-tensors="batch=100000 seq=64 graph=loss" | FileCheck %s --check-prefix=AUTO
// RUN: growc --import-hf-config %examples/smollm-135m/config.json --num-layers 1 --block-size 1 --model-name smol -o %t.smol.mlir
// RUN: growc-opt %t.smol.mlir --growc-lower-model-to-tensors="batch=4 seq=2048 graph=loss" | FileCheck %s --check-prefix=AUTO64
// RUN: not growc-opt %t.mlir --growc-lower-model-to-tensors="graph=loss loss-rows=-1" 2>&1 | FileCheck %s --check-prefix=NEGATIVE

// The cross-entropy of the loss, grad and train graphs takes the token rows
// `loss-rows` at a time, against the whole LM head (the tied embedding,
// [V = 11, D = 16]), so that the [B*T, V] logits need not exist. With
// B*T = 8 in blocks of 3: rows [0, 3), [3, 6) and a last block of 2.

// First the number of scored rows of the whole batch, a reduction in a
// kernel of its own. Then per block: a GEMM on a row slice of the final
// norm's output, the block's targets (read at the block's first row), each
// row's max, sum of exponentials, target logit, log-sum-exp and nll. The
// mean reads every block's nll in one kernel: the full blocks' as inputs,
// the partial last block's by index.
// LOSS-LABEL: func.func @one(
// LOSS-SAME: -> tensor<1xf32>
// LOSS: %[[COUNT:.+]] = linalg.generic {{.*}} ins(%{{.*}} : tensor<8xi32>) outs(%{{.*}} : tensor<1xf32>) attrs =  {growc.own_kernel}
// LOSS: %[[N0:.+]] = tensor.extract_slice %[[NORMED:[a-z0-9_#]+]][0, 0] [3, 16] [1, 1] : tensor<8x16xf32> to tensor<3x16xf32>
// LOSS: %[[L0:.+]] = growk.matmul %[[N0]], %arg2 : tensor<3x16xf32>, tensor<11x16xf32> -> tensor<3x11xf32>
// LOSS: linalg.generic {{.*}} outs(%{{.*}} : tensor<3xi32>)
// LOSS: arith.constant 0 : index
// LOSS: arith.maximumf
// LOSS: math.exp
// LOSS: tensor.extract %[[L0]]
// LOSS: math.log
// LOSS: %[[NLL0:.+]] = linalg.generic {{.*}} ins(%{{.*}}, %{{.*}}, %{{.*}} : tensor<3xi32>, tensor<3xf32>, tensor<3xf32>) outs(%{{.*}} : tensor<3xf32>)
// LOSS: %[[N1:.+]] = tensor.extract_slice %[[NORMED]][3, 0] [3, 16] [1, 1]
// LOSS: growk.matmul %[[N1]], %arg2 : tensor<3x16xf32>, tensor<11x16xf32> -> tensor<3x11xf32>
// LOSS: linalg.generic {{.*}} outs(%{{.*}} : tensor<3xi32>)
// LOSS: arith.constant 3 : index
// LOSS: %[[NLL1:.+]] = linalg.generic {{.*}} ins(%{{.*}}, %{{.*}}, %{{.*}} : tensor<3xi32>, tensor<3xf32>, tensor<3xf32>) outs(%{{.*}} : tensor<3xf32>)
// LOSS: %[[N2:.+]] = tensor.extract_slice %[[NORMED]][6, 0] [2, 16] [1, 1] : tensor<8x16xf32> to tensor<2x16xf32>
// LOSS: growk.matmul %[[N2]], %arg2 : tensor<2x16xf32>, tensor<11x16xf32> -> tensor<2x11xf32>
// LOSS: arith.constant 6 : index
// LOSS: %[[NLL2:.+]] = linalg.generic {{.*}} ins(%{{.*}}, %{{.*}}, %{{.*}} : tensor<2xi32>, tensor<2xf32>, tensor<2xf32>) outs(%{{.*}} : tensor<2xf32>)
// LOSS: linalg.generic {{.*}} ins(%[[NLL0]], %[[NLL1]], %[[COUNT]] : tensor<3xf32>, tensor<3xf32>, tensor<1xf32>) outs(%{{.*}} : tensor<1xf32>) attrs =  {growc.own_kernel}
// LOSS: tensor.extract %[[NLL2]]
// LOSS: return %{{.*}} : tensor<1xf32>
// LOSS-NOT: tensor<8x11xf32>

// The gradient: each block's kernel also writes its logit gradient, which
// two GEMMs consume at once: dlogitsᵀ · normed rows accumulates into the
// head's weight gradient (beta = 1 from the second block on) and
// dlogits · W writes the block's rows of d normed (an insert_slice). No
// logits are computed twice: one forward-layout GEMM on the head per block.
// GRAD-LABEL: func.func @one(
// GRAD: linalg.generic {{.*}} ins(%{{.*}} : tensor<8xi32>) outs(%{{.*}} : tensor<1xf32>) attrs =  {growc.own_kernel}
// GRAD: %[[DN:.+]] = tensor.empty() : tensor<8x16xf32>
// GRAD-NEXT: %[[N0:.+]] = tensor.extract_slice %[[NORMED:[a-z0-9_#]+]][0, 0] [3, 16] [1, 1]
// GRAD: %[[L0:.+]] = growk.matmul %[[N0]], %arg2 : tensor<3x16xf32>, tensor<11x16xf32> -> tensor<3x11xf32>
// GRAD: %[[DL0:.+]] = linalg.generic {{.*}} ins(%[[L0]], {{.*}} outs(%{{.*}} : tensor<3x11xf32>)
// GRAD: math.exp
// GRAD: arith.divf
// GRAD: %[[DW0:.+]] = growk.matmul %[[DL0]], %[[N0]] {transpose_lhs = true, transpose_rhs = false} : tensor<3x11xf32>, tensor<3x16xf32> -> tensor<11x16xf32>
// GRAD: %[[DN0:.+]] = growk.matmul %[[DL0]], %arg2 {transpose_rhs = false} : tensor<3x11xf32>, tensor<11x16xf32> -> tensor<3x16xf32>
// GRAD: %[[G0:.+]] = tensor.insert_slice %[[DN0]] into %[[DN]][0, 0] [3, 16] [1, 1]
// GRAD: %[[N1:.+]] = tensor.extract_slice %[[NORMED]][3, 0] [3, 16] [1, 1]
// GRAD: %[[L1:.+]] = growk.matmul %[[N1]], %arg2
// GRAD: %[[DL1:.+]] = linalg.generic {{.*}} ins(%[[L1]], {{.*}} outs(%{{.*}} : tensor<3x11xf32>)
// GRAD: %[[DW1:.+]] = growk.matmul %[[DL1]], %[[N1]] acc(%[[DW0]] : tensor<11x16xf32>) {transpose_lhs = true, transpose_rhs = false}
// GRAD: %[[DN1:.+]] = growk.matmul %[[DL1]], %arg2 {transpose_rhs = false}
// GRAD: %[[G1:.+]] = tensor.insert_slice %[[DN1]] into %[[G0]][3, 0] [3, 16] [1, 1]
// GRAD: %[[N2:.+]] = tensor.extract_slice %[[NORMED]][6, 0] [2, 16] [1, 1]
// GRAD: %[[L2:.+]] = growk.matmul %[[N2]], %arg2 : tensor<2x16xf32>, tensor<11x16xf32> -> tensor<2x11xf32>
// GRAD: %[[DL2:.+]] = linalg.generic {{.*}} ins(%[[L2]], {{.*}} outs(%{{.*}} : tensor<2x11xf32>)
// GRAD: linalg.generic {{.*}} outs(%{{.*}} : tensor<1xf32>) attrs =  {growc.own_kernel}
// GRAD: %[[DW2:.+]] = growk.matmul %[[DL2]], %[[N2]] acc(%[[DW1]] : tensor<11x16xf32>) {transpose_lhs = true, transpose_rhs = false} : tensor<2x11xf32>, tensor<2x16xf32> -> tensor<11x16xf32>
// GRAD: %[[DN2:.+]] = growk.matmul %[[DL2]], %arg2 {transpose_rhs = false}
// GRAD: %[[G2:.+]] = tensor.insert_slice %[[DN2]] into %[[G1]][6, 0] [2, 16] [1, 1]
// The final norm's VJP reads d normed whole; the tied embedding's gradient
// adds the head's.
// GRAD: linalg.generic {{.*}} ins(%[[G2]], %arg12, %{{.*}} : tensor<8x16xf32>, tensor<16xf32>, tensor<8x16xf32>)
// GRAD: linalg.generic {{.*}} ins(%[[DW2]], %{{.*}} : tensor<11x16xf32>, tensor<11x16xf32>)
// GRAD: return
// GRAD-NOT: tensor<8x11xf32>
// GRAD-NOT: growk.matmul %{{.*}}, %arg2 : tensor<{{[0-9]+}}x16xf32>, tensor<11x16xf32>

// Kernel formation: per block the logit GEMM, ONE kernel (targets, loss
// and logit gradient of the block) and the two gradient GEMMs, which read
// and write rows of normed and d normed as views; the block's targets are
// read inside its kernel from the whole targets input; the mean is one
// kernel after the last block's.
// KERNELS-LABEL: func.func @one(
// KERNELS: %[[COUNT:.+]] = call @reduce_{{[0-9]+}}(%arg1) : (tensor<2x4xi32>) -> tensor<1xf32>
// KERNELS: tensor.extract_slice %{{.*}}[0, 0] [3, 16]
// KERNELS-NEXT: growk.matmul
// KERNELS-NEXT: %[[B0:.+]]:2 = call @softmax_cross_entropy_{{[0-9]+}}(%arg1, %{{.*}}, %[[COUNT]]) : (tensor<2x4xi32>, tensor<3x11xf32>, tensor<1xf32>) -> (tensor<3xf32>, tensor<3x11xf32>)
// KERNELS-NEXT: growk.matmul %[[B0]]#1
// KERNELS-NEXT: growk.matmul %[[B0]]#1
// KERNELS-NEXT: tensor.insert_slice
// KERNELS-NEXT: tensor.extract_slice %{{.*}}[3, 0] [3, 16]
// KERNELS-NEXT: growk.matmul
// KERNELS-NEXT: %[[B1:.+]]:2 = call @softmax_cross_entropy_{{[0-9]+}}(
// KERNELS-NEXT: growk.matmul %[[B1]]#1
// KERNELS-NEXT: growk.matmul %[[B1]]#1
// KERNELS-NEXT: tensor.insert_slice
// KERNELS-NEXT: tensor.extract_slice %{{.*}}[6, 0] [2, 16]
// KERNELS-NEXT: growk.matmul
// KERNELS-NEXT: %[[B2:.+]]:2 = call @softmax_cross_entropy_{{[0-9]+}}(%arg1, %{{.*}}, %[[COUNT]]) : (tensor<2x4xi32>, tensor<2x11xf32>, tensor<1xf32>) -> (tensor<2xf32>, tensor<2x11xf32>)
// KERNELS-NEXT: call @reduce_{{[0-9]+}}(%[[B2]]#0, %[[B0]]#0, %[[B1]]#0, %[[COUNT]]) : (tensor<2xf32>, tensor<3xf32>, tensor<3xf32>, tensor<1xf32>) -> tensor<1xf32>
// KERNELS-NEXT: growk.matmul %[[B2]]#1
// KERNELS-NEXT: growk.matmul %[[B2]]#1
// KERNELS-NEXT: tensor.insert_slice

// Blocks that divide the batch (2 of 4 rows): the mean takes both as inputs.
// EVEN-LABEL: func.func @one(
// EVEN: %[[B0:.+]]:2 = call @softmax_cross_entropy_{{[0-9]+}}(
// EVEN: %[[B1:.+]]:2 = call @softmax_cross_entropy_{{[0-9]+}}(
// EVEN-NEXT: call @reduce_{{[0-9]+}}(%[[B0]]#0, %[[B1]]#0, %{{.*}}) : (tensor<4xf32>, tensor<4xf32>, tensor<1xf32>) -> tensor<1xf32>

// loss-rows=0, the default, is automatic: logits that fit in 256 MiB
// (here [4, 11]) are one block, the whole batch, no slices: one head GEMM
// and the two gradient GEMMs.
// WHOLE-LABEL: func.func @one(
// WHOLE-NOT: tensor.extract_slice
// WHOLE: %[[L:.+]] = growk.matmul %{{.*}}, %arg2 : tensor<4x16xf32>, tensor<11x16xf32> -> tensor<4x11xf32>
// WHOLE: %[[DL:.+]] = linalg.generic {{.*}} ins(%[[L]], {{.*}} outs(%{{.*}} : tensor<4x11xf32>)
// WHOLE: growk.matmul %[[DL]], %{{.*}} {transpose_lhs = true, transpose_rhs = false} : tensor<4x11xf32>, tensor<4x16xf32> -> tensor<11x16xf32>
// WHOLE-NEXT: growk.matmul %[[DL]], %arg2 {transpose_rhs = false} : tensor<4x11xf32>, tensor<11x16xf32> -> tensor<4x16xf32>
// WHOLE-NOT: growk.matmul %{{.*}}, %arg2 : tensor<4x16xf32>, tensor<11x16xf32>

// The forward graph returns the full logits whatever the block.
// FORWARD-LABEL: func.func @one(
// FORWARD-SAME: -> tensor<1x4x11xf32>
// FORWARD-NOT: tensor.extract_slice
// FORWARD: growk.matmul %{{.*}}, %arg1 : tensor<4x16xf32>, tensor<11x16xf32> -> tensor<4x11xf32>

// Up to 256 MiB of logits stay one block (B*T = 5,120,000 rows: 225 MB) ...
// FITS-LABEL: func.func @one(
// FITS-NOT: tensor.extract_slice %{{.*}} : tensor<5120000x16xf32>
// FITS: growk.matmul {{.*}} : tensor<5120000x16xf32>, tensor<11x16xf32> -> tensor<5120000x11xf32>
// ... larger logits take the fewest blocks of at most 256 MiB (here 2 of
// 282 MB / 2), each the smallest multiple of 64 rows that covers the batch
// in that many ...
// AUTO-LABEL: func.func @one(
// AUTO: tensor.extract_slice %{{.*}}[0, 0] [3200000, 16] [1, 1] : tensor<6400000x16xf32> to tensor<3200000x16xf32>
// AUTO: growk.matmul {{.*}} : tensor<3200000x16xf32>, tensor<11x16xf32> -> tensor<3200000x11xf32>
// AUTO: tensor.extract_slice %{{.*}}[3200000, 0] [3200000, 16] [1, 1]
// AUTO-NOT: tensor<6400000x11xf32>
// ... so SmolLM-135M's head (V = 49152) at B*T = 8192 (1.6 GB of logits),
// where 1344 rows fit 256 MiB (1365, rounded down to 64), takes 7 blocks:
// 6 of 1216 rows and a last one of 896.
// AUTO64-LABEL: func.func @smol(
// AUTO64: tensor.extract_slice %{{.*}}[0, 0] [1216, 576] [1, 1] : tensor<8192x576xf32> to tensor<1216x576xf32>
// AUTO64: growk.matmul {{.*}} -> tensor<1216x49152xf32>
// AUTO64: tensor.extract_slice %{{.*}}[6080, 0] [1216, 576]
// AUTO64: tensor.extract_slice %{{.*}}[7296, 0] [896, 576] [1, 1] : tensor<8192x576xf32> to tensor<896x576xf32>
// AUTO64: growk.matmul {{.*}} -> tensor<896x49152xf32>
// AUTO64-NOT: tensor<8192x49152xf32>

// NEGATIVE: error: growc-lower-model-to-tensors: loss-rows must be non-negative (0: automatic)

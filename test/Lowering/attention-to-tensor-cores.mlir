// growc-attention-to-tensor-cores (the GPU's --gpu-attention=mma): an
// attention (and its gradient) whose head size has tensor-core kernels in
// the library gets their name, and kernel formation then leaves it on the
// host, a step of its own like a GEMM. A head size without an instance (4
// here) is a warning and keeps the flash form.
// Numerics: test/Runtime/gpu.test runs the kernel (on the GPU or the fake
// driver's PTX interpreter) against PyTorch.
// RUN: growc --import-hf-config %S/Inputs/mha-hd32-untied.json --num-layers 1 --block-size 1 --model-name one -o %t.mlir
// RUN: growc-opt %t.mlir --growc-lower-model-to-tensors="batch=2 seq=8 key-block=4 graph=grad" --growc-attention-to-tensor-cores | FileCheck %s
// RUN: growc-opt %t.mlir --growc-lower-model-to-tensors="batch=2 seq=8 key-block=4 graph=grad" --growc-attention-to-tensor-cores --growc-form-kernels | FileCheck %s --check-prefix=HOST
// RUN: growc --import-hf-config %S/Inputs/gqa2-tied.json --num-layers 1 --block-size 1 --model-name small -o %t.small.mlir
// RUN: growc-opt %t.small.mlir --growc-lower-model-to-tensors="batch=2 seq=8 key-block=4" --growc-attention-to-tensor-cores 2>&1 | FileCheck %s --check-prefix=SMALL

// CHECK: growk.attention ins({{.+}} : tensor<16x64xf32>, tensor<16x64xf32>, tensor<16x64xf32>) outs({{.+}} : tensor<16x64xf32>) {growc.library_kernel = "growc_flash_forward_hd32_f32_f32", heads = 2 : i64, key_block = 4 : i64, kv_heads = 2 : i64, seq_len = 8 : i64}
// CHECK: growk.attention_grad ins({{.+}}) outs({{.+}}) {growc.library_kernel = "growc_flash_backward_hd32_f32", heads = 2 : i64

// Both are host ops between kernel calls and GEMMs.
// HOST-LABEL: func.func @one(
// HOST: call @kernel1(
// HOST-NEXT: tensor.empty
// HOST-NEXT: %[[O:.+]] = growk.attention ins({{.+}}) {growc.library_kernel = "growc_flash_forward_hd32_f32_f32"
// HOST-NEXT: growk.matmul %[[O]], %arg7
// HOST-NEXT: call @kernel2(
// HOST: growk.attention_grad ins({{.+}}) {growc.library_kernel = "growc_flash_backward_hd32_f32"
// HOST: func.func {{.*}}@kernel{{[0-9]+}}(
// HOST-NOT: growk.attention

// SMALL: warning: no tensor-core attention kernel for head size 4 (the library has 16, 32 and 64, f32 activations); 1 attention op(s) keep the flash form
// SMALL: growk.attention
// SMALL-NOT: growc.library_kernel

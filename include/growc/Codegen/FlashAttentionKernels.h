//===- FlashAttentionKernels.h - the library attention's entry points -----===//
//
// Which growk.attention and growk.attention_grad ops the kernel library's
// FlashAttention (lib/Codegen/Kernels/FlashAttention.cu) runs, and the
// names of its entry points for them. Two passes name them:
// growc-attention-to-tensor-cores marks the f32 ops, and
// growc-demote-activations renames the ops whose activations it stores as
// bf16. The plan emitter lists the backward's two passes from the name.
//
// Instances: head sizes 16, 32 and 64; the forward with f32 or bf16 q, k,
// v and f32 or bf16 output (bf16 out only from bf16 in); the backward with
// q, k, v, o and dout all f32 or all bf16, gradients f32.
//
//===----------------------------------------------------------------------===//

#ifndef GROWC_CODEGEN_FLASHATTENTIONKERNELS_H
#define GROWC_CODEGEN_FLASHATTENTIONKERNELS_H

#include "mlir/IR/BuiltinTypes.h"
#include "llvm/Support/FormatVariadic.h"

#include <optional>
#include <string>

namespace growc {

/// Whether the library has instances for head size `headDim`.
inline bool hasFlashAttentionInstance(int64_t headDim) {
  return headDim == 16 || headDim == 32 || headDim == 64;
}

/// The dtype part of an entry point's name for the element type of
/// `shaped` ("f32" or "bf16"), or nullopt for other element types.
inline std::optional<llvm::StringRef> flashDtypeName(mlir::Type shaped) {
  mlir::Type element = llvm::cast<mlir::ShapedType>(shaped).getElementType();
  if (element.isF32())
    return llvm::StringRef("f32");
  if (element.isBF16())
    return llvm::StringRef("bf16");
  return std::nullopt;
}

/// The forward's entry point for activations of type `in` (q, k and v
/// alike) written as `out`, if the library has it.
inline std::optional<std::string>
flashForwardKernel(int64_t headDim, mlir::Type in, mlir::Type out) {
  std::optional<llvm::StringRef> from = flashDtypeName(in),
                                 to = flashDtypeName(out);
  if (!hasFlashAttentionInstance(headDim) || !from || !to ||
      (*from == "f32" && *to == "bf16"))
    return std::nullopt;
  return llvm::formatv("growc_flash_forward_hd{0}_{1}_{2}", headDim, *from, *to)
      .str();
}

/// The backward's name for activations of type `in` (q, k, v, o and dout
/// alike; the gradients are f32), if the library has it:
/// growc_flash_backward_hd<hd>_<dtype>, its main pass (dK, dV and dQ per
/// key tile and query head), run after
/// growc_flash_backward_prep_hd<hd>_<dtype> (each query row's
/// rowsum(dO o O), and the gradients it accumulates zeroed).
inline std::optional<std::string> flashBackwardKernel(int64_t headDim,
                                                      mlir::Type in) {
  std::optional<llvm::StringRef> dtype = flashDtypeName(in);
  if (!hasFlashAttentionInstance(headDim) || !dtype)
    return std::nullopt;
  return llvm::formatv("growc_flash_backward_hd{0}_{1}", headDim, *dtype).str();
}

/// The name of the pass that runs before the backward `backward` (a name
/// flashBackwardKernel made), or nullopt if `backward` is not one.
inline std::optional<std::string>
flashBackwardPrepKernel(llvm::StringRef backward) {
  if (!backward.consume_front("growc_flash_backward_"))
    return std::nullopt;
  return ("growc_flash_backward_prep_" + backward).str();
}

} // namespace growc

#endif // GROWC_CODEGEN_FLASHATTENTIONKERNELS_H

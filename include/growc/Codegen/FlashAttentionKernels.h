//===- FlashAttentionKernels.h - the library attention's entry points -----===//
//
// Which growk.attention and growk.attention_grad ops the kernel library's
// FlashAttention (lib/Codegen/Kernels/FlashAttention.cu) runs, and the
// names of its entry points for them. Two passes name them:
// growc-attention-to-tensor-cores marks the f32 ops, and
// growc-demote-activations renames the ops whose activations it stores as
// bf16. The plan emitter lists the backward's two passes from the name.
//
// Instances: head sizes 16, 32, 64 and 128 (Llama-3's); the forward with
// f32 or bf16 q, k, v and f32 or bf16 output (bf16 out only from bf16
// in); the backward with q, k, v, o and dout all f32 or all bf16,
// gradients f32.
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
  return headDim == 16 || headDim == 32 || headDim == 64 || headDim == 128;
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
/// alike) written as `out`, if the library has it; with `rope`, the one
/// that rotates q and k as it loads them from column blocks of one matrix
/// (growc_flash_forward_rope_hd<hd>_<in>_<out>). The library's rope
/// instances read bf16 only: an f32 rope name is what
/// growc-attention-to-tensor-cores marks before growc-demote-activations
/// renames it, never a plan's.
inline std::optional<std::string> flashForwardKernel(int64_t headDim,
                                                     mlir::Type in,
                                                     mlir::Type out,
                                                     bool rope = false) {
  std::optional<llvm::StringRef> from = flashDtypeName(in),
                                 to = flashDtypeName(out);
  if (!hasFlashAttentionInstance(headDim) || !from || !to ||
      (*from == "f32" && *to == "bf16"))
    return std::nullopt;
  return llvm::formatv("growc_flash_forward_{0}hd{1}_{2}_{3}",
                       rope ? "rope_" : "", headDim, *from, *to)
      .str();
}

/// The backward's name for activations of type `in` (q, k, v, o and dout
/// alike; the gradients are f32), if the library has it:
/// growc_flash_backward_hd<hd>_<dtype>, its main pass (dK, dV and dQ per
/// key tile and query head), run after
/// growc_flash_backward_prep_hd<hd>_<dtype> (each query row's
/// rowsum(dO o O), and the gradients it accumulates zeroed).
/// With `rope`, growc_flash_backward_rope_hd<hd>_<dtype>, whose main pass
/// rotates q and k as it loads them (its prep pass is the plain one).
inline std::optional<std::string>
flashBackwardKernel(int64_t headDim, mlir::Type in, bool rope = false) {
  std::optional<llvm::StringRef> dtype = flashDtypeName(in);
  if (!hasFlashAttentionInstance(headDim) || !dtype)
    return std::nullopt;
  return llvm::formatv("growc_flash_backward_{0}hd{1}_{2}", rope ? "rope_" : "",
                       headDim, *dtype)
      .str();
}

/// Whether `symbol` (a name flashForwardKernel or flashBackwardKernel
/// made) rotates q and k on load.
inline bool isFlashRopeKernel(llvm::StringRef symbol) {
  return symbol.starts_with("growc_flash_forward_rope_") ||
         symbol.starts_with("growc_flash_backward_rope_");
}

/// The name of the pass that runs before the backward `backward` (a name
/// flashBackwardKernel made), or nullopt if `backward` is not one. The
/// prep pass reads neither q nor k, so the rope backward's is the plain
/// one.
inline std::optional<std::string>
flashBackwardPrepKernel(llvm::StringRef backward) {
  if (!backward.consume_front("growc_flash_backward_"))
    return std::nullopt;
  backward.consume_front("rope_");
  return ("growc_flash_backward_prep_" + backward).str();
}

} // namespace growc

#endif // GROWC_CODEGEN_FLASHATTENTIONKERNELS_H

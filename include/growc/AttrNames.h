//===- AttrNames.h - the growc.* discardable attribute names ----*- C++ -*-===//
//
// Every discardable attribute growc's passes put on functions and ops, named
// once (as Triton names AttrNumWarpsName): the lowering writes them, fusion,
// distribution, the backends and the plan emitter read them. A new attribute
// gets its constant here and a line saying who writes and who reads it.
//
//===----------------------------------------------------------------------===//

#ifndef GROWC_ATTRNAMES_H
#define GROWC_ATTRNAMES_H

#include "llvm/ADT/StringRef.h"

namespace growc::attr {

//===----------------------------------------------------------------------===//
// On the host function (growc-lower-model-to-tensors; read by the plan
// emitter)
//===----------------------------------------------------------------------===//

/// Names of the parameter (and optimizer state) arguments, in order.
constexpr llvm::StringLiteral kParamNames = "growc.param_names";
/// Provenance of each parameter: the parameter of the model before growth it
/// starts from, and whether it is an inserted copy.
constexpr llvm::StringLiteral kParamSources = "growc.param_sources";
constexpr llvm::StringLiteral kParamCopies = "growc.param_copies";
/// Initial values that are not the source's (grow.param `zero`, `scaled S`):
/// a dictionary from parameter name to its factor on the source (0.0 for
/// zero), present only where one is; read by the plan emitter ("scale").
constexpr llvm::StringLiteral kParamScales = "growc.param_scales";
/// Which parameters the train graph does not update (grow.param `frozen`):
/// booleans beside growc.param_names, present only where one is frozen. The
/// lowering writes it and gives those no gradient; the optimizer step gives
/// them no state; the plan emitter marks them "frozen".
constexpr llvm::StringLiteral kParamFrozen = "growc.param_frozen";
/// Mixed precision: the parameters whose bf16 copies are host arguments
/// appended after all others, one i64 per appended argument (the index of
/// its parameter in growc.param_names). growc-demote-activations writes it
/// (the GEMMs read the copies, growk.adamw writes those of the trained
/// parameters); the plan emitter reads it ("bf16_copy").
constexpr llvm::StringLiteral kParamBf16Copies = "growc.param_bf16_copies";
/// Names of the non-parameter inputs (tokens, targets, lr, step, apply).
constexpr llvm::StringLiteral kInputNames = "growc.input_names";
/// Names of the results, in order.
constexpr llvm::StringLiteral kOutputNames = "growc.output_names";
/// "forward", "loss", "grad" or "train".
constexpr llvm::StringLiteral kGraph = "growc.graph";
constexpr llvm::StringLiteral kVocabSize = "growc.vocab_size";
constexpr llvm::StringLiteral kBatch = "growc.batch";
constexpr llvm::StringLiteral kSeq = "growc.seq";
/// Train graphs with gradient accumulation: micro-batches per step.
constexpr llvm::StringLiteral kMicroBatches = "growc.micro_batches";

//===----------------------------------------------------------------------===//
// On ops and kernels
//===----------------------------------------------------------------------===//

/// An op the lowering wants alone in a kernel (an AdamW update, a
/// reduction's own pass); read by kernel formation and distribution.
constexpr llvm::StringLiteral kOwnKernel = "growc.own_kernel";
/// On an elementwise linalg op whose body is `out + f(inputs)`: the
/// iterations of the loop around it (blocks of tokens adding embedding
/// gradient rows into the table) may add to the same output elements, so
/// each add must be atomic (atom.global.add.f32 on the GPU). Set by the
/// lowering, honoured by growc-distribute-kernels.
constexpr llvm::StringLiteral kAtomicAdd = "growc.atomic_add";
/// On a host allocation: a buffer the runtime zeroes once, before the
/// first run, and that every kernel using it leaves at zero (the completion
/// counter of kernels whose last block sums the others' partials): the
/// plan's `zeroed` buffer, live across runs and sharing no bytes.
constexpr llvm::StringLiteral kZeroedBuffer = "growc.zeroed";
/// A function outlined by kernel formation (growc-form-kernels).
constexpr llvm::StringLiteral kKernel = "growc.kernel";
/// An op run by the hand-written kernel library (the tensor-core
/// attention): its entry point names; it stays on the host as a plan step.
constexpr llvm::StringLiteral kLibraryKernel = "growc.library_kernel";
/// The kind of a kernel the plan reports ("attention").
constexpr llvm::StringLiteral kKernelKind = "growc.kernel_kind";
/// Dynamic shared memory a distributed GPU kernel needs, in bytes.
constexpr llvm::StringLiteral kDynamicSharedBytes =
    "growc.dynamic_shared_bytes";

} // namespace growc::attr

#endif // GROWC_ATTRNAMES_H

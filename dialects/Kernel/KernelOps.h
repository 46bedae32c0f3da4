//===- KernelOps.h - the kernel-level growk dialect -------------*- C++ -*-===//
//
// Library-call, attention and optimizer ops of the tensor level (see
// KernelOps.td).
//
//===----------------------------------------------------------------------===//

#ifndef GROWC_DIALECT_KERNEL_KERNELOPS_H
#define GROWC_DIALECT_KERNEL_KERNELOPS_H

#include "growc/AttrNames.h"

#include "mlir/Bytecode/BytecodeOpInterface.h"
#include "mlir/Dialect/Bufferization/IR/BufferizableOpInterface.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinTypes.h"
#include "mlir/IR/Dialect.h"
#include "mlir/IR/ImplicitLocOpBuilder.h"
#include "mlir/IR/OpDefinition.h"
#include "mlir/IR/OpImplementation.h"
#include "mlir/Interfaces/DestinationStyleOpInterface.h"
#include "mlir/Interfaces/InferTypeOpInterface.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"

#include "dialects/Kernel/HostStepOpInterface.h.inc"
#include "dialects/Kernel/KernelDialect.h.inc"

#define GET_OP_CLASSES
#include "dialects/Kernel/KernelOps.h.inc"

namespace growc::growk {
/// Whether `op` stays on the host as a plan step (HostStepOpInterface):
/// never inside a generated kernel.
inline bool isHostStep(mlir::Operation *op) {
  auto step = llvm::dyn_cast<HostStepOpInterface>(op);
  return step && step.isHostStep();
}

/// Whether `op` is a view of a host step's operand or result that the plan
/// addresses as a buffer plus an offset (the chunked cross-entropy's row
/// blocks of the LM head and of its gradient): a tensor.extract_slice that
/// only such steps read, or a tensor.insert_slice of such a step's result.
/// It stays on the host; in a kernel it would be a copy.
bool isHostStepView(mlir::Operation *op);

/// The library_call of a GEMM after growc-lower-library-calls-to-linalg:
/// "growc_gemm_" + "a" or "at" + "b" or "bt" (which operands are stored
/// transposed) + "_acc" when C holds an accumulator (C = op(A)·op(B) + C).
/// The forward's projections are "growc_gemm_abt".
struct GemmCall {
  bool transposeA = false, transposeB = true, accumulate = false;
  std::string name() const {
    return std::string("growc_gemm_") + (transposeA ? "at" : "a") +
           (transposeB ? "bt" : "b") + (accumulate ? "_acc" : "");
  }
  /// The GEMM a library_call names, or nothing if it names none.
  static std::optional<GemmCall> parse(llvm::StringRef name) {
    if (!name.consume_front("growc_gemm_"))
      return std::nullopt;
    GemmCall call;
    call.accumulate = name.consume_back("_acc");
    if (!name.consume_front("a"))
      return std::nullopt;
    call.transposeA = name.consume_front("t");
    if (name != "b" && name != "bt")
      return std::nullopt;
    call.transposeB = name == "bt";
    return call;
  }
};
} // namespace growc::growk

#endif // GROWC_DIALECT_KERNEL_KERNELOPS_H

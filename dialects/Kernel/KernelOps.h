//===- KernelOps.h - the kernel-level growk dialect -------------*- C++ -*-===//
//
// Library-call and attention ops of the tensor level (see KernelOps.td).
//
//===----------------------------------------------------------------------===//

#ifndef GROWC_DIALECT_KERNEL_KERNELOPS_H
#define GROWC_DIALECT_KERNEL_KERNELOPS_H

#include "mlir/Bytecode/BytecodeOpInterface.h"
#include "mlir/Dialect/Bufferization/IR/BufferizableOpInterface.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinTypes.h"
#include "mlir/IR/Dialect.h"
#include "mlir/IR/ImplicitLocOpBuilder.h"
#include "mlir/IR/OpDefinition.h"
#include "mlir/IR/OpImplementation.h"
#include "mlir/Interfaces/DestinationStyleOpInterface.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"

#include "dialects/Kernel/KernelDialect.h.inc"

#define GET_OP_CLASSES
#include "dialects/Kernel/KernelOps.h.inc"

namespace growc::growk {
/// library_call names of the GEMMs after growc-lower-library-calls-to-linalg:
/// C = A · Bᵀ, and C = A · Bᵀ + C (the accumulating form of growk.matmul).
constexpr llvm::StringLiteral kGemmLibraryCall = "growc_gemm_abt";
constexpr llvm::StringLiteral kGemmAccLibraryCall = "growc_gemm_abt_acc";
} // namespace growc::growk

#endif // GROWC_DIALECT_KERNEL_KERNELOPS_H

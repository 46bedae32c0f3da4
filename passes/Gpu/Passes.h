//===- Passes.h - GPU kernel passes -----------------------------*- C++ -*-===//
//
// Declarations generated from Passes.td: pass create functions, options
// structs and registration for the passes that shape kernels for the GPU.
//
//===----------------------------------------------------------------------===//

#ifndef GROWC_PASSES_GPU_PASSES_H
#define GROWC_PASSES_GPU_PASSES_H

#include "dialects/Kernel/KernelOps.h"
#include "mlir/Dialect/Affine/IR/AffineOps.h"
#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/Pass/Pass.h"

namespace growc {

#define GEN_PASS_DECL
#include "passes/Gpu/Passes.h.inc"

/// Follows reshapes (memref.collapse_shape / expand_shape) to the buffer
/// they view; a reshape keeps offset 0, so the view's address is the
/// buffer's.
inline mlir::Value viewedBuffer(mlir::Value value) {
  while (mlir::Operation *def = value.getDefiningOp()) {
    if (auto collapse = llvm::dyn_cast<mlir::memref::CollapseShapeOp>(def))
      value = collapse.getSrc();
    else if (auto expand = llvm::dyn_cast<mlir::memref::ExpandShapeOp>(def))
      value = expand.getSrc();
    else
      break;
  }
  return value;
}

#define GEN_PASS_REGISTRATION
#include "passes/Gpu/Passes.h.inc"

} // namespace growc

#endif // GROWC_PASSES_GPU_PASSES_H

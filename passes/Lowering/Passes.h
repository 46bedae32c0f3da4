//===- Passes.h - lowering passes -------------------------------*- C++ -*-===//
//
// Declarations generated from Passes.td: pass create functions, options
// structs and registration for the lowering passes.
//
//===----------------------------------------------------------------------===//

#ifndef GROWC_PASSES_LOWERING_PASSES_H
#define GROWC_PASSES_LOWERING_PASSES_H

#include "dialects/Grow/GrowOps.h"
#include "dialects/Kernel/KernelOps.h"
#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/Pass/Pass.h"

namespace growc {

#define GEN_PASS_DECL
#include "passes/Lowering/Passes.h.inc"

#define GEN_PASS_REGISTRATION
#include "passes/Lowering/Passes.h.inc"

} // namespace growc

#endif // GROWC_PASSES_LOWERING_PASSES_H

//===- Passes.h - training passes -------------------------------*- C++ -*-===//
//
// Declarations generated from Passes.td: pass create functions, options
// structs and registration for the training stages (reverse pass,
// optimizer step).
//
//===----------------------------------------------------------------------===//

#ifndef GROWC_PASSES_TRAINING_PASSES_H
#define GROWC_PASSES_TRAINING_PASSES_H

#include "dialects/Grow/GrowOps.h"
#include "dialects/Kernel/KernelOps.h"
#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/Pass/Pass.h"

namespace growc {

#define GEN_PASS_DECL
#include "passes/Training/Passes.h.inc"

#define GEN_PASS_REGISTRATION
#include "passes/Training/Passes.h.inc"

} // namespace growc

#endif // GROWC_PASSES_TRAINING_PASSES_H

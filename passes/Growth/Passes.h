//===- Passes.h - growth passes ---------------------------------*- C++ -*-===//
//
// Declarations generated from Passes.td: pass create functions, options
// structs and registration for the growth passes.
//
//===----------------------------------------------------------------------===//

#ifndef GROWC_PASSES_GROWTH_PASSES_H
#define GROWC_PASSES_GROWTH_PASSES_H

#include "dialects/Grow/GrowOps.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/Pass/Pass.h"

namespace growc {

#define GEN_PASS_DECL
#include "passes/Growth/Passes.h.inc"

#define GEN_PASS_REGISTRATION
#include "passes/Growth/Passes.h.inc"

} // namespace growc

#endif // GROWC_PASSES_GROWTH_PASSES_H

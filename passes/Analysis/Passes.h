//===- Passes.h - depth-analysis rewrites ----------------------*- C++ -*-===//
//
// Declarations generated from Passes.td: pass create functions, options
// structs and registration for the analysis rewrites.
//
//===----------------------------------------------------------------------===//

#ifndef GROWC_PASSES_ANALYSIS_PASSES_H
#define GROWC_PASSES_ANALYSIS_PASSES_H

#include "dialects/Grow/GrowOps.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/Pass/Pass.h"

namespace growc {

#define GEN_PASS_DECL
#include "passes/Analysis/Passes.h.inc"

#define GEN_PASS_REGISTRATION
#include "passes/Analysis/Passes.h.inc"

} // namespace growc

#endif // GROWC_PASSES_ANALYSIS_PASSES_H

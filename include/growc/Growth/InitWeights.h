//===- InitWeights.h - fresh initial weights for a model --------*- C++ -*-===//
//
// Writes a checkpoint with the usual Llama initialisation (transformers'
// LlamaPreTrainedModel._init_weights): matrices ~ N(0, initializer_range²),
// RMSNorm weights = 1. Seeded and deterministic on every machine, so the
// starting point of a growth run or a test is reproducible.
//
//===----------------------------------------------------------------------===//

#ifndef GROWC_GROWTH_INITWEIGHTS_H
#define GROWC_GROWTH_INITWEIGHTS_H

#include "dialects/Grow/GrowOps.h"

#include "llvm/Support/Error.h"

namespace growc {

struct InitOptions {
  uint64_t seed = 0;
  double stddev = 0.02;
};

/// Writes every parameter of `model` to `path` (atomically).
llvm::Error writeInitialWeights(grow::ModelOp model, llvm::StringRef path,
                                const InitOptions &options);

} // namespace growc

#endif // GROWC_GROWTH_INITWEIGHTS_H

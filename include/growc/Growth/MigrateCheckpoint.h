//===- MigrateCheckpoint.h - move a checkpoint through growth ---*- C++ -*-===//
//
// Writes the grown model's checkpoint from the pre-growth one by the
// provenance table the growth passes left on the parameters: weights and,
// when present, AdamW moments. Naming scheme (docs/checkpoints.md):
//   <param>                         weights
//   optimizer.exp_avg.<param>       first moment (f32)
//   optimizer.exp_avg_sq.<param>    second moment (f32)
//   optimizer.step                  step count, copied unchanged
//
//===----------------------------------------------------------------------===//

#ifndef GROWC_GROWTH_MIGRATECHECKPOINT_H
#define GROWC_GROWTH_MIGRATECHECKPOINT_H

#include "dialects/Grow/GrowOps.h"

#include "llvm/Support/Error.h"

namespace growc {

struct MigrationOptions {
  /// Zero the AdamW moments of inserted copies instead of copying the
  /// source's moments (SPEC.md §2 option; the default copies them).
  bool zeroCopiedMoments = false;
};

struct MigrationReport {
  size_t weightsWritten = 0;
  /// Of weightsWritten: `zero` parameters written as zeros, `scaled`
  /// parameters written as a multiple of their source.
  size_t weightsZeroed = 0;
  size_t weightsScaled = 0;
  size_t momentsWritten = 0;
  size_t momentsZeroed = 0;
};

/// Validates `inputPath` (a safetensors file, a model.safetensors.index.json
/// or a model directory: rt::Checkpoint) against `before` (every parameter
/// present with its shape and a dtype that widens exactly to the declared
/// one, optimizer state complete or absent, nothing unknown but the RoPE
/// buffers and a tied model's copy of its embedding) and writes the
/// checkpoint of `after`, weights in their declared dtype, to `outputPath`
/// atomically. On any error nothing is written.
llvm::Expected<MigrationReport>
migrateCheckpoint(grow::ModelOp before, grow::ModelOp after,
                  llvm::StringRef inputPath, llvm::StringRef outputPath,
                  const MigrationOptions &options);

} // namespace growc

#endif // GROWC_GROWTH_MIGRATECHECKPOINT_H

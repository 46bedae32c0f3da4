//===- Executor.h - What a training loop needs of an executor ---*- C++ -*-===//
//
// `growc-run train` runs the same loop on the CPU and on a GPU: load a
// checkpoint, run training steps that make their next values current, score
// held-out batches without changing anything, read the parameters back for
// a checkpoint, and move the training state into the next growth stage's
// executor. This is that loop's view of an executor; CpuExecutor and
// CudaExecutor implement it, each with the rest of its own API beside it.
//
// Migration is planned here, once for both devices (planParamMigration):
// which of the new plan's tensors start from which of the old plan's (by
// the new plan's provenance, SPEC.md §2) and which optimizer moments start
// at zero. So is loading a checkpoint (planParamLoad): which tensor each
// parameter comes from and in which element type, what a checkpoint may
// hold beside the parameters. The executors only copy bytes.
//
//===----------------------------------------------------------------------===//

#ifndef GROWC_RUNTIME_EXECUTOR_H
#define GROWC_RUNTIME_EXECUTOR_H

#include "growc/runtime/Checkpoint.h"
#include "growc/runtime/Collective.h"
#include "growc/runtime/Plan.h"
#include "growc/runtime/RunInterface.h"
#include "growc/runtime/Safetensors.h"
#include "growc/runtime/Status.h"

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace growc::rt {

/// What a migration moved.
struct MigrationReport {
  int64_t copied = 0;     ///< tensors taken from the previous model
  int64_t duplicated = 0; ///< of which starting an inserted copy
  int64_t zeroedMoments = 0;
};

/// One tensor of the new plan and where its value comes from.
struct ParamMove {
  const PlanParam *to = nullptr;
  /// The old plan's tensor; nullptr: zero (the moments of an inserted copy
  /// with zeroCopiedMoments).
  const PlanParam *from = nullptr;
  /// The model parameter `to` is, or whose optimizer state it is.
  const PlanParam *owner = nullptr;
};

/// Every tensor of `to` and its source in `from`: a parameter takes the
/// value of its provenance `source`; its AdamW moments
/// (`optimizer.exp_avg[_sq].<name>`, `optimizer.grad_sum.<name>`) take the
/// source's, or zero for inserted copies with `zeroCopiedMoments`. Checks
/// the whole table (every source present with the same dtype and shape);
/// refuses a parameter whose `scale` is not 1 (only plain copies migrate
/// live state).
StatusOr<std::vector<ParamMove>>
planParamMigration(const Plan &to, const Plan &from, bool zeroCopiedMoments);

/// The counts of a migration table.
MigrationReport reportOf(const std::vector<ParamMove> &moves);

/// One tensor of a plan and the checkpoint tensor its value comes from.
struct ParamLoad {
  const PlanParam *param = nullptr;
  /// nullptr: zero (optimizer state that the checkpoint does not have yet).
  const TensorView *tensor = nullptr;

  /// Writes the value, converted to the parameter's dtype, to `dst`
  /// (param->byteSize bytes, no alignment needed).
  void writeTo(void *dst) const;
};

/// Every tensor of `plan` and where it comes from in `checkpoint`, checked
/// whole before anything is copied: each parameter present with the plan's
/// shape and a dtype that converts exactly (convertsExactly: BF16/F16 into
/// F32 master weights; a plan of bf16 parameters takes bf16 only); optimizer
/// state (`optimizer.*`) zero where absent. Beside them the checkpoint may
/// hold optimizer state and the training loop's position (`growc.train.*`),
/// the RoPE buffers of isIgnoredBuffer and, for a tied model, an
/// `lm_head.weight` equal to the embedding (checkTiedHead); any other tensor
/// is an error naming it and its file.
StatusOr<std::vector<ParamLoad>> planParamLoad(const Plan &plan,
                                               const Checkpoint &checkpoint);
/// The loads point into the plan: a temporary one would leave them dangling.
StatusOr<std::vector<ParamLoad>>
planParamLoad(Plan &&plan, const Checkpoint &checkpoint) = delete;

class Executor {
public:
  virtual ~Executor();

  virtual const Plan &plan() const = 0;
  /// Where it runs, for messages: "cpu (N threads)" or the GPU's name.
  virtual std::string describe() const = 0;

  /// Every parameter of the plan from `checkpoint` by planParamLoad
  /// (everything checked before anything is copied); optimizer state that
  /// the checkpoint lacks starts at zero.
  virtual Status loadParams(const Checkpoint &checkpoint) = 0;

  /// What the plan's all_reduce steps reduce over (not owned); nullptr or
  /// a one-process collective makes them no-ops.
  virtual void setCollective(Collective *collective) = 0;

  /// Runs a train graph once on `tokens` and `targets` with the scalars
  /// (`lr`, `step`, `apply`). With `commit` its next values become the
  /// parameters and optimizer state (a training step); without, nothing
  /// changes (scoring held-out batches). Returns the outputs that are not
  /// next values (the loss), valid until the next run.
  virtual StatusOr<std::map<std::string, OutputTensor>>
  trainStep(const TensorView &tokens, const TensorView &targets,
            const std::map<std::string, float> &scalars, bool commit) = 0;

  /// Every parameter (optimizer state included) as it is now, in plan
  /// order, in host memory valid until the next call on this executor: for
  /// checkpoints and for checking that replicas agree.
  virtual StatusOr<std::vector<TensorToWrite>> readParams() = 0;

  /// A growth step inside a live run: sets every tensor of this plan from
  /// `previous` (an executor of the same kind, on the same device) by
  /// planParamMigration. Nothing is written unless the whole table checks.
  virtual StatusOr<MigrationReport> migrateFrom(const Executor &previous,
                                                bool zeroCopiedMoments) = 0;
};

} // namespace growc::rt

#endif // GROWC_RUNTIME_EXECUTOR_H

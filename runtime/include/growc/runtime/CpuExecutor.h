//===- CpuExecutor.h - Runs a CPU artifact's plan ---------------*- C++ -*-===//
//
// Executes a plan whose kernels are a native shared object (`growc
// --target=cpu`), in the style of XLA's thunk sequence: prepare once (verify
// the plan, dlopen the kernels and resolve every symbol, allocate the single
// arena), then run the steps in order for each call. Generated kernels are
// called as `void symbol(void **args, int64_t begin, int64_t end)` with the
// addresses of their buffers and a range of their blocks; GEMM steps go to
// OpenBLAS's cblas_sgemm.
//
// An executor owns its arena, so one executor runs one call at a time; it
// is not thread-safe. Separate executors are independent.
//
// Threads: the executor owns the parallelism (ThreadPool.h). Each kernel's
// blocks and each GEMM's rows are split into contiguous ranges, one per
// thread; OpenBLAS is set to one thread per call so that no second pool
// competes for the cores. The thread count is GROWC_NUM_THREADS or the
// number of cores unless given to create().
//
//===----------------------------------------------------------------------===//

#ifndef GROWC_RUNTIME_CPUEXECUTOR_H
#define GROWC_RUNTIME_CPUEXECUTOR_H

#include "growc/runtime/Collective.h"
#include "growc/runtime/Executor.h"
#include "growc/runtime/Plan.h"
#include "growc/runtime/RunInterface.h"
#include "growc/runtime/Safetensors.h"
#include "growc/runtime/Status.h"
#include "growc/runtime/ThreadPool.h"

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace growc::rt {

/// Accumulated wall time of the steps of one kind.
struct StepKindTiming {
  int64_t calls = 0;
  double seconds = 0.0;
};

/// Where the time of forward() went, accumulated since the last
/// resetTimings(): by step kind, plus the time spent outside the steps
/// (checking and padding tokens, extracting outputs; `other.calls` counts
/// forward runs).
struct ExecutorTimings {
  StepKindTiming kernel;
  StepKindTiming gemm;
  /// all_reduce steps that communicated (waiting for the other ranks
  /// included).
  StepKindTiming allReduce;
  /// The adamw step (the whole optimizer of a train graph).
  StepKindTiming optimizer;
  StepKindTiming other;
  /// `kernel` split by plan kernel index.
  std::vector<StepKindTiming> perKernel;
  /// By plan step index (growc-run --profile).
  std::vector<StepKindTiming> perStep;
};

class CpuExecutor final : public Executor {
public:
  /// Prepares `plan` (already verified by loadPlan/parsePlan) for running:
  /// checks that it targets the CPU, dlopens its kernels file (RTLD_NOW |
  /// RTLD_LOCAL) and resolves every kernel symbol, and allocates the
  /// zero-filled arena.
  /// `threads` <= 0: ThreadPool::defaultThreads().
  static StatusOr<std::unique_ptr<CpuExecutor>> create(Plan plan,
                                                       int threads = 0);

  /// Loads the plan of `artifact` (a plan or a kernels file, see
  /// planPathFor) and prepares it.
  static StatusOr<std::unique_ptr<CpuExecutor>>
  load(const std::string &artifact, int threads = 0);

  /// The threads kernels and GEMMs are split over.
  int threads() const { return pool_->threads(); }

  ~CpuExecutor();
  CpuExecutor(const CpuExecutor &) = delete;
  CpuExecutor &operator=(const CpuExecutor &) = delete;

  const Plan &plan() const override { return plan_; }
  std::string describe() const override;

  /// Copies every parameter of the plan from `checkpoint` into its buffer,
  /// converted to the plan's dtype (planParamLoad, Executor.h: what a
  /// checkpoint may hold and how its tensors convert). Checks everything
  /// before copying anything, so that a rejected checkpoint leaves
  /// previously loaded parameters intact. Each parameter's bf16 copy
  /// (mixed precision) is set to bf16 of its new value.
  Status loadParams(const Checkpoint &checkpoint) override;

  /// Runs the graph on `tokens` (int32 [b, t] with b <= batch, t <= seq and
  /// every token in [0, vocab_size)). The tokens go to the top-left of the
  /// [batch, seq] input buffer, the rest is token 0. Returns, by output
  /// name, the top-left [b, t, ...] block of each float32 output (see
  /// OutputTensor for how long its data lives). The plan
  /// must have exactly one input, `tokens` (int32 [batch, seq]), and the
  /// parameters must have been loaded if it has any.
  ///
  /// A loss graph (inputs `tokens` and `targets`) also needs `targets`: int32
  /// of the tokens' shape, each in the vocabulary or kIgnoreIndex; padding
  /// positions are ignored, so its scalar loss holds for any [b, t].
  ///
  /// A training step also takes float scalars by input name (`lr`,
  /// `step`); its optimizer state parameters (`optimizer.*`) start at zero
  /// when the checkpoint has none. A plan's adamw step runs here too: it
  /// updates the parameters and their state in place, so a train graph's
  /// forward is one committed step for the parameters whose next values
  /// share their buffers (trainStep with commit = false skips it).
  ///
  /// A depth-score graph (growc-skip-layers split-input) also needs `split`:
  /// int32 [b], one split position in [0, seq] per row of the tokens.
  StatusOr<std::map<std::string, OutputTensor>>
  forward(const TensorView &tokens, const TensorView *targets = nullptr,
          const std::map<std::string, float> &scalars = {},
          const TensorView *split = nullptr);

  /// The collective that the plan's all_reduce steps reduce over (not
  /// owned; it must outlive the runs). Without one, or with a one-process
  /// one, all_reduce steps do nothing: a single-process run computes
  /// exactly what it would without them.
  void setCollective(Collective *collective) override {
    collective_ = collective;
  }
  Collective *collective() const { return collective_; }

  /// A train graph's outputs named like parameters are their next values:
  /// copies those in buffers of their own (planNextValues) into the
  /// parameters, so the next run continues from them. Next values that
  /// share their parameter's buffer (the adamw step's) are already there.
  Status commitNextValues(const std::map<std::string, OutputTensor> &outputs);

  /// Every parameter as it is in the arena now, in plan order (for writing
  /// a checkpoint; valid until the next run).
  std::vector<TensorToWrite> paramTensors() const;

  /// The bf16 copy of `param` (a parameter of this plan) as it is now:
  /// numElements values, bf16(parameter) after every load, migration and
  /// step (docs/plan.md); nullptr when it has none. For checks: copies are
  /// derived state, never part of paramTensors or a checkpoint.
  const uint16_t *bf16Copy(const PlanParam &param) const;

  using Migration = MigrationReport;
  /// A growth step inside a live run: sets every parameter of this plan
  /// from `previous`'s by this plan's provenance (planParamMigration,
  /// Executor.h; SPEC.md §2). Checks the whole table before writing
  /// anything; the bf16 copies follow their parameters.
  StatusOr<Migration> migrateFrom(const CpuExecutor &previous,
                                  bool zeroCopiedMoments = false);

  // Executor (the training loop's interface).
  StatusOr<std::map<std::string, OutputTensor>>
  trainStep(const TensorView &tokens, const TensorView &targets,
            const std::map<std::string, float> &scalars, bool commit) override;
  StatusOr<std::vector<TensorToWrite>> readParams() override {
    return paramTensors();
  }
  StatusOr<MigrationReport> migrateFrom(const Executor &previous,
                                        bool zeroCopiedMoments) override;

  /// The target that contributes nothing to a loss (PyTorch's default).
  static constexpr int32_t kIgnoreIndex = rt::kIgnoreIndex;

  /// The checks forward() makes on `tokens`, without running anything: for
  /// callers that want to report bad tokens with their own context (say, the
  /// file they came from). Messages start with "tokens".
  Status checkTokens(const TensorView &tokens) const;
  /// The checks forward() makes on `targets` for `tokens`.
  Status checkTargets(const TensorView &tokens,
                      const TensorView &targets) const;

  const ExecutorTimings &timings() const { return timings_; }
  void resetTimings() { timings_ = ExecutorTimings(); }

private:
  /// Sets `param`'s bf16 copy (if it has one) from its value, over the
  /// threads: after anything that writes the parameter from outside a
  /// step.
  void roundBf16Copy(const PlanParam &param);

  using KernelFn = void (*)(void **, int64_t, int64_t);

  /// A step with its kernel and buffer addresses resolved.
  struct PreparedStep {
    PlanStep::Op op;
    KernelFn fn = nullptr;
    size_t kernel = 0;        // Kernel: index into plan.kernels.
    int64_t blocks = 1;       // Kernel: independent blocks to split.
    std::vector<void *> args; // Kernel: buffer addresses.
    const float *a = nullptr; // Gemm operands.
    const float *b = nullptr;
    float *c = nullptr;
    // Gemm with bf16 operands (a plan of --precision=bf16 GPU kernels run
    // for checking): the bf16 data, widened into the fp32 copies that a, b
    // and c point to before the sgemm; c16 gets C rounded back after it.
    const uint16_t *a16 = nullptr, *b16 = nullptr;
    uint16_t *c16 = nullptr;
    std::vector<float> wideA, wideB, wideC;
    int m = 0, n = 0, k = 0;
    float beta = 0.0f;
    bool transA = false, transB = true;
    // AllReduce: the buffers' floats, and the flag that gates the step.
    std::vector<std::pair<float *, int64_t>> reduce;
    const float *when = nullptr;
    ReduceOp reduction = ReduceOp::Mean;
    // AdamW: the starts of the flat regions (gradSums null without
    // accumulation) and their length in floats, the scalars (apply null
    // without accumulation), the constants, and the squared norm's
    // per-chunk partial sums.
    struct AdamW {
      float *params = nullptr, *expAvg = nullptr, *expAvgSq = nullptr,
            *gradSums = nullptr;
      /// Mixed precision: the parameters' bf16 copies (null: none), at the
      /// params' element indices.
      uint16_t *bf16Params = nullptr;
      const float *grads = nullptr;
      int64_t n = 0;
      const float *lr = nullptr, *step = nullptr, *apply = nullptr,
                  *lossNonfinite = nullptr;
      float *gradNorm = nullptr, *nonfinite = nullptr;
      double beta1 = 0, beta2 = 0, eps = 0, weightDecay = 0, maxGradNorm = 0;
      std::vector<double> partials;
    } adam;
  };

  CpuExecutor(Plan plan, int threads)
      : plan_(std::move(plan)),
        pool_(std::make_unique<ThreadPool>(
            threads > 0 ? threads : ThreadPool::defaultThreads())) {}
  Status prepare();
  /// forward(), with or without the adamw step.
  StatusOr<std::map<std::string, OutputTensor>>
  run(const TensorView &tokens, const TensorView *targets,
      const std::map<std::string, float> &scalars, const TensorView *split,
      bool runOptimizer);
  /// The adamw step over the thread pool (docs/plan.md's semantics).
  void runAdamW(PreparedStep::AdamW &adam);
  uint8_t *bufferAddress(int64_t id) const {
    return arena_ + plan_.buffers[id].offset;
  }
  /// A tensor's first byte (it may share its buffer with others).
  uint8_t *tensorAddress(const PlanTensor &t) const {
    return bufferAddress(t.buffer) + t.offset;
  }
  /// A parameter's bf16 copy: half the parameter's offset into the copy
  /// buffer (the plan checked that it has one).
  uint16_t *bf16CopyAddress(const PlanParam &param) const {
    return reinterpret_cast<uint16_t *>(bufferAddress(param.bf16Copy) +
                                        param.offset / 2);
  }

  Plan plan_;
  std::unique_ptr<ThreadPool> pool_;
  void *dlHandle_ = nullptr;
  /// The anonymous mapping holding the arena, and the aligned arena start
  /// inside it.
  void *mapping_ = nullptr;
  size_t mappingSize_ = 0;
  uint8_t *arena_ = nullptr;
  std::vector<PreparedStep> steps_;
  /// The next values a committing run copies (planNextValues).
  std::vector<NextValue> nextValues_;
  bool paramsLoaded_ = false;
  Collective *collective_ = nullptr;
  ExecutorTimings timings_;
};

} // namespace growc::rt

#endif // GROWC_RUNTIME_CPUEXECUTOR_H

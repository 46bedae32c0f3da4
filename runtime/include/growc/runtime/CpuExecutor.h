//===- CpuExecutor.h - Runs a CPU artifact's plan ---------------*- C++ -*-===//
//
// Executes a plan whose kernels are a native shared object (`growc
// --target=cpu`), in the style of XLA's thunk sequence: prepare once (verify
// the plan, dlopen the kernels and resolve every symbol, allocate the single
// arena), then run the steps in order for each call. Generated kernels are
// called as `void symbol(void **args)` with the addresses of their buffers;
// GEMM steps go to OpenBLAS's cblas_sgemm.
//
// An executor owns its arena, so one executor runs one call at a time; it
// is not thread-safe. Separate executors are independent.
//
// Threads: OpenBLAS starts as many threads as there are cores by default,
// which oversubscribes the small shared machines growc is built and tested
// on and buys little at growc's model sizes. Unless OPENBLAS_NUM_THREADS is
// set in the environment (then OpenBLAS's own choice stands), creating an
// executor sets OpenBLAS to kDefaultBlasThreads threads.
//
//===----------------------------------------------------------------------===//

#ifndef GROWC_RUNTIME_CPUEXECUTOR_H
#define GROWC_RUNTIME_CPUEXECUTOR_H

#include "growc/runtime/Plan.h"
#include "growc/runtime/Safetensors.h"
#include "growc/runtime/Status.h"

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace growc::rt {

/// One output of a forward run: the top-left [b, t, ...] block of a plan
/// output, as float32, row-major.
struct OutputTensor {
  std::vector<int64_t> shape;
  std::vector<float> data;
};

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
  StepKindTiming other;
  /// `kernel` split by plan kernel index.
  std::vector<StepKindTiming> perKernel;
};

class CpuExecutor {
public:
  /// OpenBLAS thread count used unless OPENBLAS_NUM_THREADS is set.
  static constexpr int kDefaultBlasThreads = 2;

  /// Prepares `plan` (already verified by loadPlan/parsePlan) for running:
  /// checks that it targets the CPU, dlopens its kernels file (RTLD_NOW |
  /// RTLD_LOCAL) and resolves every kernel symbol, and allocates the
  /// zero-filled arena.
  static StatusOr<std::unique_ptr<CpuExecutor>> create(Plan plan);

  /// Loads the plan of `artifact` (a plan or a kernels file, see
  /// planPathFor) and prepares it.
  static StatusOr<std::unique_ptr<CpuExecutor>>
  load(const std::string &artifact);

  ~CpuExecutor();
  CpuExecutor(const CpuExecutor &) = delete;
  CpuExecutor &operator=(const CpuExecutor &) = delete;

  const Plan &plan() const { return plan_; }

  /// Copies every parameter of the plan from `checkpoint` into its buffer.
  /// Each parameter must be present with the plan's dtype and shape;
  /// optimizer state (`optimizer.*`) is ignored and any other tensor that is
  /// not a parameter is an error. Checks everything before copying anything,
  /// so that a rejected checkpoint leaves previously loaded parameters
  /// intact.
  Status loadParams(const SafetensorsFile &checkpoint);

  /// Runs the graph on `tokens` (int32 [b, t] with b <= batch, t <= seq and
  /// every token in [0, vocab_size)). The tokens go to the top-left of the
  /// [batch, seq] input buffer, the rest is token 0. Returns, by output
  /// name, the top-left [b, t, ...] block of each float32 output. The plan
  /// must have exactly one input, `tokens` (int32 [batch, seq]), and the
  /// parameters must have been loaded if it has any.
  StatusOr<std::map<std::string, OutputTensor>>
  forward(const TensorView &tokens);

  /// The checks forward() makes on `tokens`, without running anything: for
  /// callers that want to report bad tokens with their own context (say, the
  /// file they came from). Messages start with "tokens".
  Status checkTokens(const TensorView &tokens) const;

  const ExecutorTimings &timings() const { return timings_; }
  void resetTimings() { timings_ = ExecutorTimings(); }

private:
  using KernelFn = void (*)(void **);

  /// A step with its kernel and buffer addresses resolved.
  struct PreparedStep {
    PlanStep::Op op;
    KernelFn fn = nullptr;
    size_t kernel = 0;        // Kernel: index into plan.kernels.
    std::vector<void *> args; // Kernel: buffer addresses.
    const float *a = nullptr; // Gemm operands.
    const float *b = nullptr;
    float *c = nullptr;
    int m = 0, n = 0, k = 0;
  };

  explicit CpuExecutor(Plan plan) : plan_(std::move(plan)) {}
  Status prepare();
  uint8_t *bufferAddress(int64_t id) const {
    return arena_ + plan_.buffers[id].offset;
  }

  Plan plan_;
  void *dlHandle_ = nullptr;
  /// The anonymous mapping holding the arena, and the aligned arena start
  /// inside it.
  void *mapping_ = nullptr;
  size_t mappingSize_ = 0;
  uint8_t *arena_ = nullptr;
  std::vector<PreparedStep> steps_;
  bool paramsLoaded_ = false;
  ExecutorTimings timings_;
};

} // namespace growc::rt

#endif // GROWC_RUNTIME_CPUEXECUTOR_H

//===- CudaExecutor.h - Runs an nvptx artifact's plan on a GPU --*- C++ -*-===//
//
// The GPU counterpart of CpuExecutor, in the same prepare-once / execute-many
// shape (XLA's thunk sequence): prepare loads libcuda, cuBLASLt (dlopen,
// CudaLibraries.h), the PTX (cuModuleLoadDataEx, with the JIT's error log
// in the message when it fails) and every kernel, allocates the single
// arena, and builds one cuBLASLt matmul descriptor per GEMM step. The first
// run picks each GEMM's algorithm by timing the heuristic's top candidates
// (cached on disk per device and shape, see GemmTuning.h) and runs
// the steps; later runs replay the whole step sequence as one CUDA graph.
// Every CUDA call's status is checked.
//
// all_reduce steps (data parallelism) run NCCL on a second stream: the step
// records an event on the compute stream, the communication stream waits
// for it and reduces the bucket, and the compute stream waits for the
// reduction only before the first later step that touches the bucket's
// bytes, so buckets reduce while the backward pass goes on.
//
// Training (the Executor interface): a committing trainStep copies each
// next value into its parameter on the device, inside the same CUDA graph
// as the steps, and only the outputs that are not next values (the loss)
// come back to the host. A run keeps one graph per way of running
// (committing or not, communicating or not).
//
// Status: written and compiled against the CUDA 13 headers, its failure
// paths (no driver, no device, a bad PTX file) unit-tested; it has not yet
// run on a GPU (no GPU was available to the session that wrote it).
//
//===----------------------------------------------------------------------===//

#ifndef GROWC_RUNTIME_CUDAEXECUTOR_H
#define GROWC_RUNTIME_CUDAEXECUTOR_H

#include "growc/runtime/CpuExecutor.h"
#include "growc/runtime/Executor.h"
#include "growc/runtime/Plan.h"
#include "growc/runtime/Safetensors.h"
#include "growc/runtime/Status.h"

#include <map>
#include <memory>
#include <string>
#include <vector>

namespace growc::rt {

class CudaExecutor final : public Executor {
public:
  struct Options {
    int device = 0;
    /// "" = the default sonames; tests point these at missing files or
    /// the toolkit's stub driver.
    std::string driverPath;
    std::string blasPath;
    /// Replay the steps as a CUDA graph after the first run.
    bool useGraphs = true;
  };

  /// Prepares `plan` (target nvptx) on the GPU. Fails with a plain message
  /// when there is no driver or no device.
  static StatusOr<std::unique_ptr<CudaExecutor>> create(Plan plan,
                                                        const Options &options);
  ~CudaExecutor();
  CudaExecutor(const CudaExecutor &) = delete;
  CudaExecutor &operator=(const CudaExecutor &) = delete;

  const Plan &plan() const override;
  /// As CpuExecutor::loadParams (planParamLoad): everything checked before
  /// anything is copied to the device; a tensor that needs converting goes
  /// through a host buffer of its converted bytes.
  Status loadParams(const Checkpoint &checkpoint) override;
  /// What the plan's all_reduce steps reduce over (not owned): the nccl
  /// engine (NcclCollective.h) in a data-parallel run; nullptr or a
  /// one-process engine makes them no-ops.
  void setCollective(Collective *collective) override;
  /// As CpuExecutor::forward; every output is copied back to the host.
  StatusOr<std::map<std::string, OutputTensor>>
  forward(const TensorView &tokens, const TensorView *targets = nullptr,
          const std::map<std::string, float> &scalars = {});
  /// Where a run's time goes (growc-run --profile): the steps run one by
  /// one, without a graph, `repeats` times after a first run, with CUDA
  /// events between them.
  struct StepProfile {
    /// Per plan step, the mean milliseconds.
    std::vector<double> stepMs;
    /// Per plan step: for a GEMM, the fastest of the cuBLASLt heuristic's
    /// first 32 candidates for its shape, timed alone; 0 otherwise.
    std::vector<double> bestGemmMs;
    /// What cuMemcpyDtoD of 256 MiB reads and writes per second (the
    /// bandwidth a memory-bound kernel is measured against).
    double copyBytesPerSecond = 0;
  };
  StatusOr<StepProfile> profile(const TensorView &tokens,
                                const TensorView *targets,
                                const std::map<std::string, float> &scalars,
                                int repeats);
  /// The bytes of plan buffer `id` as the device holds them now, for tests
  /// and debugging: derived state such as the parameters' bf16 copies,
  /// which readParams does not return.
  StatusOr<std::vector<uint8_t>> readBuffer(int64_t id);
  /// The device's name, for messages and benchmark tables.
  const std::string &deviceName() const;
  std::string describe() const override { return deviceName(); }

  // Executor (the training loop's interface).
  StatusOr<std::map<std::string, OutputTensor>>
  trainStep(const TensorView &tokens, const TensorView &targets,
            const std::map<std::string, float> &scalars, bool commit) override;
  StatusOr<std::vector<TensorToWrite>> readParams() override;
  StatusOr<MigrationReport> migrateFrom(const Executor &previous,
                                        bool zeroCopiedMoments) override;

  struct State;

private:
  explicit CudaExecutor(std::unique_ptr<State> state);
  std::unique_ptr<State> state_;
};

} // namespace growc::rt

#endif // GROWC_RUNTIME_CUDAEXECUTOR_H

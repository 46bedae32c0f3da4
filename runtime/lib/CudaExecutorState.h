//===- CudaExecutorState.h - What the CUDA executor holds -------*- C++ -*-===//
//
// Private to the CUDA executor (runtime/lib, not installed): everything it
// holds on the device and the declarations of its steps (prepare, choose
// the GEMMs' algorithms, enqueue, run). CudaExecutor.cpp defines them; the
// declarations live here so that a part of the executor can move to a file
// of its own without exposing CUDA types in CudaExecutor.h.
//
//===----------------------------------------------------------------------===//

#ifndef GROWC_RUNTIME_LIB_CUDAEXECUTORSTATE_H
#define GROWC_RUNTIME_LIB_CUDAEXECUTORSTATE_H

#include "growc/runtime/CudaExecutor.h"
#include "growc/runtime/CudaLibraries.h"
#include "growc/runtime/GemmTuning.h"

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace growc::rt {

/// Everything the executor holds on the device.
struct CudaExecutor::State {
  Plan plan;
  Options options;
  std::shared_ptr<cuda::Driver> cu;
  std::shared_ptr<cuda::BlasLt> lt;
  CUdevice device = 0;
  CUcontext context = nullptr;
  CUmodule module = nullptr;
  CUstream stream = nullptr;
  CUdeviceptr arenaBase = 0, arena = 0, workspace = 0;
  std::string deviceName;
  cublasLtHandle_t handle = nullptr;
  Collective *collective = nullptr;
  /// The captured step sequence per way of running (graphKey).
  std::map<int, CUgraphExec> graphs;
  bool paramsLoaded = false;
  bool algorithmsChosen = false;
  /// Host images of the input and output buffers, each up to the end of
  /// the last tensor staged in it (those of next values only once forward()
  /// needs them).
  std::vector<std::vector<uint8_t>> hostBuffers;
  /// Host copies of the parameters for readParams.
  std::vector<std::vector<uint8_t>> paramMirror;
  /// Whether every parameter with a bf16 copy (PlanParam::bf16Copy, which
  /// loadParams and migrateFrom write by rounding, as the adamw step does)
  /// is F32 with a buffer big enough, before anything is written.
  Status checkBf16Copies() const;

  /// What a call runs beyond the plan's computing steps. A train graph's
  /// optimizer (its adamw step) updates the parameters and moments in
  /// place: it runs on committing training steps and on forward(), whose
  /// outputs are the next values, and is skipped on non-committing
  /// (validation) steps. The copies are older plans' next values (outputs
  /// with buffers of their own) into the parameters, on committing steps.
  struct RunMode {
    bool optimizer = false, copies = false;
  };
  static constexpr RunMode kForward{true, false}, kCommit{true, true},
      kValidate{false, false};

  /// A train graph's next value and the parameter it replaces.
  struct Commit {
    CUdeviceptr to = 0, from = 0;
    size_t bytes = 0;
  };
  std::vector<Commit> commits;
  bool isNextValue(const PlanTensor &output) const {
    return plan.findParam(output.name) != nullptr;
  }

  struct Gemm {
    const PlanStep *step = nullptr;
    cublasLtMatmulDesc_t desc = nullptr;
    cublasLtMatrixLayout_t a = nullptr, b = nullptr, c = nullptr;
    cublasLtMatmulAlgo_t algo{};
    bool haveAlgo = false;
    std::string key;
    /// The alignment (a power of two, at most 256) of cuBLASLt's A, B and
    /// C/D pointers: the heuristic assumes 256 unless told, and an
    /// algorithm that needs more than an operand has may fault.
    uint32_t alignment[3] = {256, 256, 256};
  };
  struct Launch {
    CUfunction fn = nullptr;
    const PlanLaunch *launch = nullptr;
    std::vector<CUdeviceptr> values;
    /// Scalar parameters (a library kernel's shapes), after the pointers.
    std::vector<int32_t> scalars;
    std::vector<void *> params;
    /// The configuration of a library kernel's launch (attention and adamw
    /// steps), which `launch` points to.
    PlanLaunch own;
    bool library = false;
    /// An attention_grad step's three launches (statistics, dK/dV, dQ); an
    /// adamw step's three (squared-norm partials, scalars, update).
    std::vector<Launch> passes;
    std::vector<Launch *> passesInOrder() {
      std::vector<Launch *> out;
      for (Launch &pass : passes)
        out.push_back(&pass);
      return out;
    }
  };
  /// The launches of a library attention step (forward or backward).
  Status prepareAttention(const PlanStep &step, Launch &launch);
  /// The kernel library entry point `symbol` of the loaded module, with a
  /// message naming it if the kernels file lacks it (the plan verifies
  /// only its generated kernels' symbols against the file).
  Status libraryFunction(const std::string &symbol, CUfunction &fn);
  /// Lets `fn` (entry point `symbol`) launch with `dynamicBytes` of
  /// dynamic shared memory per block (the opt-in CUDA needs above 48 KiB),
  /// or says which kernel needs more shared memory, static and dynamic,
  /// than a block of the device may have.
  Status reserveSharedMemory(CUfunction fn, const std::string &symbol,
                             int64_t dynamicBytes);
  /// CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK_OPTIN (0: not yet
  /// asked).
  int maxSharedPerBlock = 0;
  /// Scratch for the attention backward's rowsum(dO o O) per query row
  /// (the log-sum-exps are the plan's), shared by the steps, which run in
  /// order.
  CUdeviceptr attentionStats = 0;
  size_t attentionStatsBytes = 0;
  /// The launches of an adamw step (lib/Codegen/Kernels/Optimizer.cu).
  Status prepareAdamW(const PlanStep &step, Launch &launch);
  /// Per adamw step, scratch for its block partials (doubles) and the
  /// scalars its update reads.
  std::vector<CUdeviceptr> adamScratch;
  /// One per plan step, in order: a kernel launch or a GEMM.
  std::vector<Launch> launches;
  std::vector<Gemm> gemms;

  /// all_reduce steps: the stream NCCL runs on, per step an event the
  /// communication waits for and one marking its end, and per step the
  /// all_reduce steps whose end it must wait for (index steps.size(): the
  /// end of the sequence).
  CUstream commStream = nullptr;
  std::vector<CUevent> ready, done;
  std::vector<std::vector<size_t>> waitsBefore;
  bool communicates() const { return collective && collective->size() > 1; }
  int graphKey(RunMode mode) const {
    return (mode.optimizer ? 1 : 0) | (mode.copies ? 2 : 0) |
           (communicates() ? 4 : 0);
  }
  /// Whether all_reduce step `s` runs on this call (its `when` flag, from
  /// the host image of the input that holds it).
  bool allReduceRuns(const PlanStep &s) const;
  Status planCommunication();
  /// The communication stream and events, made the first time a run
  /// communicates.
  Status prepareCommunication();

  ~State();
  CUdeviceptr address(int64_t buffer, int64_t offset = 0) const {
    return arena + CUdeviceptr(plan.buffers[buffer].offset + offset);
  }
  /// A tensor's first byte (it may share its buffer with others).
  CUdeviceptr address(const PlanTensor &t) const {
    return address(t.buffer, t.offset);
  }
  /// A parameter's bf16 copy: half the parameter's offset into the copy
  /// buffer.
  CUdeviceptr bf16CopyAddress(const PlanParam &param) const {
    return address(param.bf16Copy, param.offset / 2);
  }
  /// The host image of an input or output (hostBuffers holds whole
  /// buffers, so tensors sharing one keep their offsets).
  uint8_t *hostData(const PlanTensor &t) {
    return hostBuffers[t.buffer].data() + t.offset;
  }
  Status prepare();
  Status describeGemm(Gemm &gemm);
  /// What GemmTuning needs to time `gemm` on this executor's device.
  GemmDevice gemmDevice() const {
    return {cu.get(), lt.get(), handle, stream, workspace};
  }
  GemmCall callOf(const Gemm &gemm) const;
  Status chooseAlgorithms();
  Status enqueueSteps(RunMode mode,
                      const std::vector<CUevent> *marks = nullptr);
  Status run(RunMode mode);
  Status copyInputs();
  /// One run: the inputs staged and copied in, the steps as `mode` says,
  /// and the outputs `fetch` accepts (all without one) copied back and cut
  /// to the tokens' shape.
  StatusOr<std::map<std::string, OutputTensor>>
  execute(const TensorView &tokens, const TensorView *targets,
          const std::map<std::string, float> &scalars, RunMode mode,
          const std::function<bool(const PlanTensor &)> &fetch);
};

} // namespace growc::rt

#endif // GROWC_RUNTIME_LIB_CUDAEXECUTORSTATE_H

//===- CudaExecutor.cpp - Runs an nvptx artifact's plan on a GPU ----------===//
//
// GEMMs: the plan's GEMMs are row-major, cuBLASLt is column-major. A
// row-major matrix is its transpose in column-major, so the plan's
// C = op(A)·op(B) is computed as Cᵀ = op(B)ᵀ·op(A)ᵀ with cuBLASLt's "A" the
// plan's B and its "B" the plan's A (see describeGemm). Which cuBLASLt
// algorithm each GEMM runs is chosen by GemmTuning.cpp.
//
//===----------------------------------------------------------------------===//

#include "growc/runtime/CudaExecutor.h"

#include "CudaExecutorState.h"

#include "growc/runtime/ContentHash.h"
#include "growc/runtime/CudaLibraries.h"
#include "growc/runtime/FlashAttentionLayout.h"
#include "growc/runtime/GemmTuning.h"
#include "growc/runtime/HfExport.h"
#include "growc/runtime/KernelsFile.h"
#include "growc/runtime/RunInterface.h"
#include "growc/runtime/Text.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <functional>
#include <sstream>
#include <unistd.h>

using namespace growc::rt;
using namespace growc::rt::cuda;
namespace flash = growc::flash;

namespace {

/// Heuristic candidates timed per GEMM shape.
constexpr int kCandidates = 8;

std::string readWhole(const std::string &path, Status &status) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    status = Status::error(path + ": cannot open");
    return {};
  }
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

} // namespace

CudaExecutor::State::~State() {
  if (!cu)
    return;
  // Teardown errors cannot be reported; the context goes with the process.
  for (auto &[key, graph] : graphs)
    cu->cuGraphExecDestroy(graph);
  if (lt) {
    for (Gemm &g : gemms) {
      if (g.desc)
        lt->cublasLtMatmulDescDestroy(g.desc);
      for (cublasLtMatrixLayout_t layout : {g.a, g.b, g.c})
        if (layout)
          lt->cublasLtMatrixLayoutDestroy(layout);
    }
    if (handle)
      lt->cublasLtDestroy(handle);
  }
  if (workspace)
    cu->cuMemFree(workspace);
  if (attentionStats)
    cu->cuMemFree(attentionStats);
  for (CUdeviceptr scratch : adamScratch)
    cu->cuMemFree(scratch);
  if (arenaBase)
    cu->cuMemFree(arenaBase);
  for (CUevent e : ready)
    if (e)
      cu->cuEventDestroy(e);
  for (CUevent e : done)
    if (e)
      cu->cuEventDestroy(e);
  if (commStream)
    cu->cuStreamDestroy(commStream);
  if (stream)
    cu->cuStreamDestroy(stream);
  if (module)
    cu->cuModuleUnload(module);
  if (context)
    cu->cuDevicePrimaryCtxRelease(device);
}

// Returns the failed call's Status from the enclosing function; a single
// statement, so that it nests safely under an unbraced if/else.
#define GROWC_CU(call)                                                         \
  do {                                                                         \
    if (Status s_ = cu->check(call, #call); !s_.isOk())                        \
      return s_;                                                               \
  } while (false)
#define GROWC_LT(call)                                                         \
  do {                                                                         \
    if (Status s_ = lt->check(call, #call); !s_.isOk())                        \
      return s_;                                                               \
  } while (false)

Status CudaExecutor::State::prepare() {
  if (plan.target != "nvptx")
    return Status::error(plan.path + ": a " + plan.target +
                         " plan; --device=cuda runs artifacts compiled with "
                         "-o model.ptx (--target=nvptx)");
  const std::string driverPath =
      libraryPath(options.driverPath, "GROWC_LIBCUDA");
  StatusOr<std::shared_ptr<Driver>> driver =
      Driver::load(driverPath.empty() ? "libcuda.so.1" : driverPath);
  if (!driver.isOk())
    return driver.status();
  cu = *driver;
  if (CUresult r = cu->cuInit(0); r != CUDA_SUCCESS)
    return Status::error("no usable CUDA driver: " +
                         cu->check(r, "cuInit").message());
  int count = 0;
  GROWC_CU(cu->cuDeviceGetCount(&count));
  if (count == 0)
    return Status::error("no CUDA device on this machine (--device=cpu runs "
                         "on the CPU)");
  if (options.device < 0 || options.device >= count)
    return Status::error("CUDA device " + std::to_string(options.device) +
                         " does not exist (" + std::to_string(count) +
                         " device(s))");
  GROWC_CU(cu->cuDeviceGet(&device, options.device));
  char name[256] = {0};
  GROWC_CU(cu->cuDeviceGetName(name, sizeof name - 1, device));
  deviceName = name;
  GROWC_CU(cu->cuDevicePrimaryCtxRetain(&context, device));
  GROWC_CU(cu->cuCtxSetCurrent(context));
  GROWC_CU(cu->cuStreamCreate(&stream, CU_STREAM_NON_BLOCKING));

  // The PTX, JIT-compiled by the driver; its log is the message on failure.
  Status readStatus;
  std::string ptx = readWhole(plan.kernelsPath, readStatus);
  if (!readStatus.isOk())
    return readStatus;
  // Only the PTX the plan was compiled with, describing its kernels as the
  // plan does (KernelsFile.h); the bytes checked are the bytes loaded.
  if (Status s = checkKernelsHash(plan, hashBytes(ptx)); !s.isOk())
    return s;
  StatusOr<std::string_view> signatures = findPtxSignatureTable(plan, ptx);
  if (!signatures.isOk())
    return signatures.status();
  if (Status s = checkKernelSignatures(plan, *signatures); !s.isOk())
    return s;
  std::vector<char> errorLog(16384, '\0'), infoLog(16384, '\0');
  CUjit_option jitOptions[] = {
      CU_JIT_ERROR_LOG_BUFFER, CU_JIT_ERROR_LOG_BUFFER_SIZE_BYTES,
      CU_JIT_INFO_LOG_BUFFER, CU_JIT_INFO_LOG_BUFFER_SIZE_BYTES};
  void *jitValues[] = {
      errorLog.data(), reinterpret_cast<void *>(uintptr_t(errorLog.size())),
      infoLog.data(), reinterpret_cast<void *>(uintptr_t(infoLog.size()))};
  if (CUresult r = cu->cuModuleLoadDataEx(&module, ptx.c_str(), 4, jitOptions,
                                          jitValues);
      r != CUDA_SUCCESS)
    return Status::error(
        plan.kernelsPath + ": the driver rejected the PTX: " +
        cu->check(r, "cuModuleLoadDataEx").message() +
        (errorLog[0] ? "\n" + std::string(errorLog.data()) : std::string()));

  // One arena, aligned like the plan's offsets; a workspace for cuBLASLt.
  // The arena starts at zero, as the CPU's does: the adamw step runs over
  // flat regions whose gaps between tensors no other step writes, and
  // cuMemAlloc leaves memory as it was.
  GROWC_CU(cu->cuMemAlloc(&arenaBase, size_t(plan.arenaSize + plan.alignment)));
  arena = (arenaBase + CUdeviceptr(plan.alignment - 1)) &
          ~CUdeviceptr(plan.alignment - 1);
  GROWC_CU(cu->cuMemsetD8Async(
      arenaBase, 0, size_t(plan.arenaSize + plan.alignment), stream));
  // Zeroed buffers (completion counters) must start at zero whatever the
  // arena's fill; their kernels leave them at zero for the next launch.
  for (const PlanBuffer &buffer : plan.buffers)
    if (buffer.zeroed)
      GROWC_CU(cu->cuMemsetD8Async(arena + CUdeviceptr(buffer.offset), 0,
                                   size_t(buffer.size), stream));
  GROWC_CU(cu->cuStreamSynchronize(stream));
  GROWC_CU(cu->cuMemAlloc(&workspace, kGemmWorkspaceBytes));

  StatusOr<std::shared_ptr<BlasLt>> blas =
      BlasLt::load(libraryPath(options.blasPath, "GROWC_LIBCUBLASLT"));
  if (!blas.isOk())
    return blas.status();
  lt = *blas;
  GROWC_LT(lt->cublasLtCreate(&handle));

  for (const PlanStep &step : plan.steps) {
    if (step.op == PlanStep::Op::AllReduce) {
      launches.push_back(Launch{});
      continue;
    }
    if (step.op == PlanStep::Op::Kernel) {
      const PlanKernel &kernel = plan.kernels[step.kernel];
      Launch launch;
      // The signature table vouches for the kernel, but not that the PTX
      // above it (a truncated or edited file, re-bound) still defines it.
      CUresult found =
          cu->cuModuleGetFunction(&launch.fn, module, kernel.symbol.c_str());
      if (found == CUDA_ERROR_NOT_FOUND)
        return Status::error(plan.kernelsPath + ": no entry " +
                             inQuotes(kernel.symbol) + " (kernel " +
                             inQuotes(kernel.name) +
                             " of the plan), though its signature table "
                             "lists it");
      if (Status s = cu->check(found, "cuModuleGetFunction"); !s.isOk())
        return s;
      launch.launch = &*kernel.launch;
      // Per-block buffers beyond the 48 KiB of static shared memory are
      // dynamic shared memory, which a kernel must opt in to.
      if (Status s = reserveSharedMemory(launch.fn, kernel.symbol,
                                         kernel.launch->sharedBytes);
          !s.isOk())
        return s;
      for (int64_t param : kernel.launch->params)
        launch.values.push_back(address(step.args[param]));
      for (CUdeviceptr &value : launch.values)
        launch.params.push_back(&value);
      launches.push_back(std::move(launch));
      continue;
    }
    if (step.op == PlanStep::Op::Attention ||
        step.op == PlanStep::Op::AttentionGrad) {
      Launch launch;
      if (Status s = prepareAttention(step, launch); !s.isOk())
        return s;
      launches.push_back(std::move(launch));
      continue;
    }
    if (step.op == PlanStep::Op::AdamW) {
      Launch launch;
      if (Status s = prepareAdamW(step, launch); !s.isOk())
        return s;
      launches.push_back(std::move(launch));
      continue;
    }
    Gemm gemm;
    gemm.step = &step;
    if (Status s = describeGemm(gemm); !s.isOk())
      return s;
    gemms.push_back(gemm);
    launches.push_back(Launch{});
  }
  // Stable addresses for the kernel parameter arrays from here on.
  auto settle = [](Launch &launch) {
    if (launch.library)
      launch.launch = &launch.own;
    launch.params.clear();
    for (CUdeviceptr &value : launch.values)
      launch.params.push_back(&value);
    for (int32_t &scalar : launch.scalars)
      launch.params.push_back(&scalar);
  };
  for (Launch &launch : launches) {
    settle(launch);
    for (Launch &pass : launch.passes)
      settle(pass);
  }

  hostBuffers.resize(plan.buffers.size());
  auto stage = [&](const PlanTensor &t) {
    std::vector<uint8_t> &host = hostBuffers[t.buffer];
    host.resize(std::max(host.size(), size_t(t.offset + t.byteSize)));
  };
  for (const PlanTensor &t : plan.inputs)
    stage(t);
  for (const PlanTensor &t : plan.outputs)
    if (!plan.findParam(t.name))
      stage(t);
  // The copies a committing run adds, counted by the cost model from the
  // same list.
  for (const NextValue &next : planNextValues(plan)) {
    if (next.output->byteSize != next.param->byteSize)
      return Status::error(plan.path + ": output " +
                           inQuotes(next.output->name) +
                           " does not have its parameter's size");
    commits.push_back({address(*next.param), address(*next.output),
                       size_t(next.output->byteSize)});
  }
  paramsLoaded = plan.params.empty();
  return planCommunication();
}

Status CudaExecutor::State::libraryFunction(const std::string &symbol,
                                            CUfunction &fn) {
  CUresult result = cu->cuModuleGetFunction(&fn, module, symbol.c_str());
  if (result == CUDA_ERROR_NOT_FOUND)
    return Status::error("the kernels file has no kernel library entry "
                         "point '" +
                         symbol + "', which the plan's steps name");
  return cu->check(result, "cuModuleGetFunction");
}

Status CudaExecutor::State::reserveSharedMemory(CUfunction fn,
                                                const std::string &symbol,
                                                int64_t dynamicBytes) {
  int staticBytes = 0;
  GROWC_CU(cu->cuFuncGetAttribute(&staticBytes,
                                  CU_FUNC_ATTRIBUTE_SHARED_SIZE_BYTES, fn));
  if (maxSharedPerBlock == 0)
    GROWC_CU(cu->cuDeviceGetAttribute(
        &maxSharedPerBlock,
        CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK_OPTIN, device));
  // As the launch would fail (CUDA_ERROR_INVALID_VALUE), but naming it.
  if (staticBytes + dynamicBytes > maxSharedPerBlock)
    return Status::error(plan.path + ": kernel '" + symbol + "' needs " +
                         std::to_string(staticBytes + dynamicBytes) +
                         " bytes of shared memory per block (" +
                         std::to_string(staticBytes) + " static, " +
                         std::to_string(dynamicBytes) +
                         " dynamic), more than the device's " +
                         std::to_string(maxSharedPerBlock));
  if (dynamicBytes > 0)
    GROWC_CU(cu->cuFuncSetAttribute(
        fn, CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES,
        int(dynamicBytes)));
  return Status::ok();
}

/// The kernel library's attention (lib/Codegen/Kernels/FlashAttention.cu,
/// docs/plan.md): the forward is `symbol(q, k, v, o, lse, T, H, KVH)`, lse
/// the plan's buffer or null; the backward two passes over a scratch of
/// B * H * T floats (each query row's rowsum(dO o O)): prep(o, dout,
/// delta, dq, dk, dv, T, H, KVH, B) on (ceil(T / 64), H, B) blocks, which
/// also zeroes dq (and dk, dv where KVH < H), then main(q, k, v, dout,
/// lse, delta, dq, dk, dv, T, H, KVH, B) on (ceil(T / 64), H, B), one
/// block per key tile and query head, which adds each key tile's share of
/// dq and each query head's share of dk and dv. 128 threads a block and
/// the dynamic shared memory of FlashAttentionLayout.h (beyond 48 KiB at
/// head size 128: opted in). RoPE on load (step.rope, the *_rope_* entry
/// points): the forward and the main pass also take the tables cos and
/// sin after their pointers and q, k and v's row stride after their
/// scalars.
Status CudaExecutor::State::prepareAttention(const PlanStep &step,
                                             Launch &launch) {
  auto pass = [&](const std::string &symbol, flash::Pass kind, int64_t heads,
                  std::initializer_list<CUdeviceptr> pointers,
                  std::vector<int32_t> scalars) -> StatusOr<Launch> {
    Launch l;
    if (Status s = libraryFunction(symbol, l.fn); !s.isOk())
      return s;
    // Its shared memory follows the head size, so the entry point must be
    // the instance for the step's.
    if (symbol.find("_hd" + std::to_string(step.headDim) + "_") ==
        std::string::npos)
      return Status::error(plan.path + ": attention entry point '" + symbol +
                           "' is not the kernel library's instance for "
                           "head_dim " +
                           std::to_string(step.headDim));
    l.own.grid[0] = (step.seqLen + flash::kBlockRows - 1) / flash::kBlockRows;
    l.own.grid[1] = heads;
    l.own.grid[2] = step.batch;
    l.own.block[0] = flash::kThreads;
    l.own.sharedBytes = flash::sharedBytes(kind, int(step.headDim));
    if (Status s = reserveSharedMemory(l.fn, symbol, l.own.sharedBytes);
        !s.isOk())
      return s;
    l.library = true;
    l.values = pointers;
    l.scalars = std::move(scalars);
    return l;
  };
  std::vector<CUdeviceptr> at;
  for (size_t i = 0; i < step.operands.size(); ++i)
    at.push_back(address(step.operands[i], step.operandOffsets[i]));
  const int32_t T = int32_t(step.seqLen), H = int32_t(step.heads),
                KVH = int32_t(step.kvHeads), B = int32_t(step.batch);
  // The RoPE tables close the operand list.
  CUdeviceptr cos = 0, sin = 0;
  if (step.rope) {
    sin = at.back(), at.pop_back();
    cos = at.back(), at.pop_back();
  }
  const int32_t stride = int32_t(step.rowStride);
  if (step.op == PlanStep::Op::Attention) {
    CUdeviceptr lse = at.size() > 4 ? at[4] : 0;
    StatusOr<Launch> forward =
        step.rope ? pass(step.symbols[0], flash::Pass::Forward, H,
                         {at[0], at[1], at[2], at[3], lse, cos, sin},
                         {T, H, KVH, stride})
                  : pass(step.symbols[0], flash::Pass::Forward, H,
                         {at[0], at[1], at[2], at[3], lse}, {T, H, KVH});
    if (!forward.isOk())
      return forward.status();
    launch = std::move(*forward);
    return Status::ok();
  }
  size_t statsBytes = size_t(B) * size_t(H) * size_t(T) * 4;
  if (statsBytes > attentionStatsBytes) {
    if (attentionStats)
      GROWC_CU(cu->cuMemFree(attentionStats));
    attentionStats = 0;
    GROWC_CU(cu->cuMemAlloc(&attentionStats, statsBytes));
    attentionStatsBytes = statsBytes;
  }
  // at: q, k, v, o, dout, dq, dk, dv, lse.
  StatusOr<Launch> passes[2] = {
      pass(step.symbols[0], flash::Pass::BackwardPrep, H,
           {at[3], at[4], attentionStats, at[5], at[6], at[7]}, {T, H, KVH, B}),
      step.rope ? pass(step.symbols[1], flash::Pass::BackwardMain, H,
                       {at[0], at[1], at[2], at[4], at[8], attentionStats,
                        at[5], at[6], at[7], cos, sin},
                       {T, H, KVH, B, stride})
                : pass(step.symbols[1], flash::Pass::BackwardMain, H,
                       {at[0], at[1], at[2], at[4], at[8], attentionStats,
                        at[5], at[6], at[7]},
                       {T, H, KVH, B})};
  for (StatusOr<Launch> &p : passes) {
    if (!p.isOk())
      return p.status();
    launch.passes.push_back(std::move(*p));
  }
  return Status::ok();
}

namespace {

/// Threads per block of the AdamW kernels (their launch bounds).
constexpr int64_t kAdamThreads = 256;

/// A parameter's bf16 copy from its f32 value (`n` floats, any
/// alignment): round to nearest even, the adamw kernel's cvt.rn.bf16.f32.
std::vector<uint16_t> roundToBf16(const void *value, int64_t n) {
  std::vector<uint16_t> copy(static_cast<size_t>(n));
  for (size_t i = 0; i < copy.size(); ++i) {
    float x;
    std::memcpy(&x, static_cast<const uint8_t *>(value) + 4 * i, sizeof x);
    copy[i] = floatToBf16(x);
  }
  return copy;
}

/// A float kernel parameter as the 32 bits Launch::scalars holds.
int32_t floatBits(double value) {
  float f = float(value);
  int32_t bits;
  std::memcpy(&bits, &f, sizeof bits);
  return bits;
}

} // namespace

/// The kernel library's AdamW (lib/Codegen/Kernels/Optimizer.cu, docs/
/// plan.md): over the N floats from the first buffer of each list to the
/// end of its last (the lists share one layout, which the plan verifier
/// checks), sumsq(grads, N, partials) on P blocks, scalars(partials,
/// loss_nonfinite, apply, lr, step, grad_norm, nonfinite, scalars, P,
/// log β1, log β2, weight decay, max norm) on one, update(params, grads,
/// exp_avg, exp_avg_sq, grad_sums, bf16_params, scalars, N, β1, β2, 1-β1,
/// 1-β2, eps) grid-stride; 256 threads a block. Null pointers for a
/// missing apply, grad_sums and bf16_params (the bf16 list shares the
/// element layout at half the bytes, so N covers it too).
Status CudaExecutor::State::prepareAdamW(const PlanStep &step, Launch &launch) {
  if (step.symbols.size() != 3)
    return Status::error(plan.path +
                         ": an adamw step needs the kernel library's three "
                         "symbols (sumsq, scalars, update)");
  auto region = [&](const std::vector<int64_t> &list) -> CUdeviceptr {
    return list.empty() ? 0 : address(list.front());
  };
  int64_t n = 0;
  if (!step.adamParams.empty()) {
    const PlanBuffer &first = plan.buffers[step.adamParams.front()];
    const PlanBuffer &last = plan.buffers[step.adamParams.back()];
    n = (last.offset + last.size - first.offset) / int64_t(sizeof(float));
  }
  // Enough groups of four per thread that the partials stay few; at most
  // 1024 blocks (the scalars' block sums them), at least one.
  const int64_t blocks = std::clamp<int64_t>(
      (n + 16 * kAdamThreads - 1) / (16 * kAdamThreads), 1, 1024);
  const int64_t updateBlocks = std::clamp<int64_t>(
      (n + 4 * kAdamThreads - 1) / (4 * kAdamThreads), 1, 4096);
  // The step's scratch: the partials, then the scalars 256-byte aligned.
  const size_t scalarsAt = (size_t(blocks) * sizeof(double) + 255) / 256 * 256;
  CUdeviceptr scratch = 0;
  GROWC_CU(cu->cuMemAlloc(&scratch, scalarsAt + 256));
  adamScratch.push_back(scratch);
  const CUdeviceptr partials = scratch, scalars = scratch + scalarsAt;
  auto pass = [&](const std::string &symbol, int64_t grid,
                  std::vector<CUdeviceptr> values,
                  std::vector<int32_t> constants) -> StatusOr<Launch> {
    Launch l;
    if (Status s = libraryFunction(symbol, l.fn); !s.isOk())
      return s;
    l.own.grid[0] = grid;
    l.own.block[0] = kAdamThreads;
    l.library = true;
    l.values = std::move(values);
    l.scalars = std::move(constants);
    return l;
  };
  auto scalar = [&](int64_t id) -> CUdeviceptr {
    return id < 0 ? 0 : address(id);
  };
  StatusOr<Launch> passes[3] = {
      pass(step.symbols[0], blocks,
           {region(step.adamGrads), CUdeviceptr(n), partials}, {}),
      pass(step.symbols[1], 1,
           {partials, scalar(step.adamLossNonfinite), scalar(step.adamApply),
            scalar(step.adamLr), scalar(step.adamStep),
            scalar(step.adamGradNorm), scalar(step.adamNonfinite), scalars},
           {int32_t(blocks), floatBits(std::log(step.beta1)),
            floatBits(std::log(step.beta2)), floatBits(step.weightDecay),
            floatBits(step.maxGradNorm)}),
      pass(step.symbols[2], updateBlocks,
           {region(step.adamParams), region(step.adamGrads),
            region(step.adamExpAvg), region(step.adamExpAvgSq),
            region(step.adamGradSums), region(step.adamBf16Params), scalars,
            CUdeviceptr(n)},
           {floatBits(step.beta1), floatBits(step.beta2),
            floatBits(1 - step.beta1), floatBits(1 - step.beta2),
            floatBits(step.eps)})};
  for (StatusOr<Launch> &p : passes) {
    if (!p.isOk())
      return p.status();
    launch.passes.push_back(std::move(*p));
  }
  return Status::ok();
}

/// The bytes of the arena a step reads or writes, as [begin, end) ranges.
static std::vector<std::pair<int64_t, int64_t>> bytesOf(const Plan &plan,
                                                        const PlanStep &s) {
  std::vector<std::pair<int64_t, int64_t>> ranges;
  auto whole = [&](int64_t id) {
    const PlanBuffer &b = plan.buffers[id];
    ranges.emplace_back(b.offset, b.offset + b.size);
  };
  switch (s.op) {
  case PlanStep::Op::Kernel:
    for (int64_t id : s.args)
      whole(id);
    break;
  case PlanStep::Op::Gemm:
    for (int64_t id : {s.a, s.b, s.c})
      whole(id);
    break;
  case PlanStep::Op::AllReduce:
    for (int64_t id : s.buffers)
      whole(id);
    break;
  case PlanStep::Op::Attention:
  case PlanStep::Op::AttentionGrad:
    for (int64_t id : s.operands)
      whole(id);
    break;
  case PlanStep::Op::AdamW:
    // Every listed buffer and scalar (the gaps between a list's buffers
    // belong to no other buffer).
    for (const std::vector<int64_t> *list :
         {&s.adamParams, &s.adamGrads, &s.adamExpAvg, &s.adamExpAvgSq,
          &s.adamGradSums, &s.adamBf16Params})
      for (int64_t id : *list)
        whole(id);
    for (int64_t id : {s.adamLr, s.adamStep, s.adamApply, s.adamLossNonfinite,
                       s.adamGradNorm, s.adamNonfinite})
      if (id >= 0)
        whole(id);
    break;
  }
  return ranges;
}

Status CudaExecutor::State::planCommunication() {
  const size_t n = plan.steps.size();
  waitsBefore.assign(n + 1, {});
  ready.assign(n, nullptr);
  done.assign(n, nullptr);
  for (size_t i = 0; i < n; ++i) {
    const PlanStep &s = plan.steps[i];
    if (s.op != PlanStep::Op::AllReduce)
      continue;
    // The flag must be on the host when the steps are enqueued.
    bool flagIsInput = false;
    for (const PlanTensor &input : plan.inputs)
      flagIsInput =
          flagIsInput || (input.buffer == s.when && input.offset == 0);
    if (s.when >= 0 && !flagIsInput)
      return Status::error(plan.path + ": steps[" + std::to_string(i) +
                           "]: the GPU executor needs an all_reduce step's "
                           "'when' flag to be an input");
    // The first later step touching the bucket's bytes waits for it.
    std::vector<std::pair<int64_t, int64_t>> bucket = bytesOf(plan, s);
    size_t waiter = n;
    for (size_t j = i + 1; j < n && waiter == n; ++j)
      for (auto [b0, b1] : bytesOf(plan, plan.steps[j]))
        for (auto [r0, r1] : bucket)
          if (b0 < r1 && r0 < b1)
            waiter = j;
    waitsBefore[waiter].push_back(i);
  }
  return Status::ok();
}

Status CudaExecutor::State::prepareCommunication() {
  if (commStream || !communicates())
    return Status::ok();
  const size_t n = plan.steps.size();
  GROWC_CU(cu->cuStreamCreate(&commStream, CU_STREAM_NON_BLOCKING));
  for (size_t i = 0; i < n; ++i)
    if (plan.steps[i].op == PlanStep::Op::AllReduce) {
      GROWC_CU(cu->cuEventCreate(&ready[i], CU_EVENT_DISABLE_TIMING));
      GROWC_CU(cu->cuEventCreate(&done[i], CU_EVENT_DISABLE_TIMING));
    }
  return Status::ok();
}

bool CudaExecutor::State::allReduceRuns(const PlanStep &s) const {
  if (!communicates())
    return false;
  if (s.when < 0)
    return true;
  float flag = 0;
  std::memcpy(&flag, hostBuffers[s.when].data(), sizeof flag);
  return flag > 0.5f;
}

Status CudaExecutor::State::describeGemm(Gemm &gemm) {
  const PlanStep &s = *gemm.step;
  GROWC_LT(
      lt->cublasLtMatmulDescCreate(&gemm.desc, CUBLAS_COMPUTE_32F, CUDA_R_32F));
  // Cᵀ[n, m] = op(B)ᵀ · op(A)ᵀ in column-major (see the file comment).
  cublasOperation_t opA = s.transB ? CUBLAS_OP_T : CUBLAS_OP_N;
  cublasOperation_t opB = s.transA ? CUBLAS_OP_T : CUBLAS_OP_N;
  GROWC_LT(lt->cublasLtMatmulDescSetAttribute(
      gemm.desc, CUBLASLT_MATMUL_DESC_TRANSA, &opA, sizeof opA));
  GROWC_LT(lt->cublasLtMatmulDescSetAttribute(
      gemm.desc, CUBLASLT_MATMUL_DESC_TRANSB, &opB, sizeof opB));
  // The plan's B stored [n, k] (transB) or [k, n]; its A [m, k] or [k, m].
  // Element types from the plan (bf16 with --precision=bf16; the compute
  // and scale types stay fp32: bf16 A and B with bf16 or fp32 C/D is one of
  // cuBLASLt's supported CUBLAS_COMPUTE_32F combinations). Not yet run on
  // a GPU (docs/gpu.md).
  auto cudaType = [](DType t) {
    return t == DType::BF16 ? CUDA_R_16BF : CUDA_R_32F;
  };
  // cuBLASLt's A and B are the plan's B and A (the transposition above).
  uint64_t aRows = s.transB ? s.k : s.n, aCols = s.transB ? s.n : s.k;
  uint64_t bRows = s.transA ? s.m : s.k, bCols = s.transA ? s.k : s.m;
  GROWC_LT(lt->cublasLtMatrixLayoutCreate(&gemm.a, cudaType(s.bType), aRows,
                                          aCols, int64_t(aRows)));
  GROWC_LT(lt->cublasLtMatrixLayoutCreate(&gemm.b, cudaType(s.aType), bRows,
                                          bCols, int64_t(bRows)));
  GROWC_LT(lt->cublasLtMatrixLayoutCreate(&gemm.c, cudaType(s.cType), s.n, s.m,
                                          int64_t(s.n)));
  gemm.key = std::to_string(s.m) + " " + std::to_string(s.n) + " " +
             std::to_string(s.k) + " " + std::to_string(s.transA) + " " +
             std::to_string(s.transB) + " " + std::to_string(s.beta);
  // Algorithms cached for fp32 GEMMs keep their keys.
  if (s.aType != DType::F32 || s.cType != DType::F32)
    gemm.key +=
        std::string(" ") + dtypeName(s.aType) + " " + dtypeName(s.cType);
  // Operands at offsets (loss row blocks, per-head blocks) may be less
  // aligned than the 256 bytes the heuristic assumes by default; an
  // algorithm chosen for one alignment is cached only for it.
  CUdeviceptr pointers[3] = {address(s.b, s.bOffset), address(s.a, s.aOffset),
                             address(s.c, s.cOffset)};
  for (int i = 0; i < 3; ++i) {
    gemm.alignment[i] = 256;
    while (gemm.alignment[i] > 1 && pointers[i] % gemm.alignment[i] != 0)
      gemm.alignment[i] /= 2;
  }
  if (gemm.alignment[0] < 256 || gemm.alignment[1] < 256 ||
      gemm.alignment[2] < 256)
    gemm.key += " align " + std::to_string(gemm.alignment[0]) + " " +
                std::to_string(gemm.alignment[1]) + " " +
                std::to_string(gemm.alignment[2]);
  return Status::ok();
}

GemmCall CudaExecutor::State::callOf(const Gemm &gemm) const {
  // cuBLASLt's A and B are the plan's B and A (see the file comment).
  const PlanStep &s = *gemm.step;
  GemmCall call;
  call.desc = gemm.desc;
  call.a = gemm.a;
  call.b = gemm.b;
  call.c = gemm.c;
  call.aPtr = address(s.b, s.bOffset);
  call.bPtr = address(s.a, s.aOffset);
  call.cPtr = address(s.c, s.cOffset);
  call.beta = float(s.beta);
  for (int i = 0; i < 3; ++i)
    call.alignment[i] = gemm.alignment[i];
  call.key = gemm.key;
  return call;
}

Status CudaExecutor::State::chooseAlgorithms() {
  GemmAlgorithmCache cache;
  for (Gemm &gemm : gemms) {
    if (cache.find(deviceName, gemm.key, gemm.algo)) {
      gemm.haveAlgo = true;
      continue;
    }
    StatusOr<cublasLtMatmulAlgo_t> best =
        tuneGemm(gemmDevice(), callOf(gemm), kCandidates);
    if (!best.isOk())
      return best.status();
    gemm.algo = *best;
    gemm.haveAlgo = true;
    cache.insert(deviceName, gemm.key, gemm.algo);
  }
  cache.save();
  algorithmsChosen = true;
  return Status::ok();
}

Status CudaExecutor::State::enqueueSteps(RunMode mode,
                                         const std::vector<CUevent> *marks) {
  size_t g = 0;
  std::vector<bool> reducing(plan.steps.size(), false);
  auto join = [&](size_t i) -> Status {
    for (size_t j : waitsBefore[i])
      if (reducing[j])
        GROWC_CU(cu->cuStreamWaitEvent(stream, done[j], 0));
    return Status::ok();
  };
  for (size_t i = 0; i < plan.steps.size(); ++i) {
    const PlanStep &s = plan.steps[i];
    if (Status st = join(i); !st.isOk())
      return st;
    // Profiling: an event before each step and one after the last.
    if (marks)
      GROWC_CU(cu->cuEventRecord((*marks)[i], stream));
    if (s.op == PlanStep::Op::AllReduce) {
      if (!allReduceRuns(s))
        continue;
      GROWC_CU(cu->cuEventRecord(ready[i], stream));
      GROWC_CU(cu->cuStreamWaitEvent(commStream, ready[i], 0));
      ReduceOp op =
          s.reduction == PlanReduction::Sum ? ReduceOp::Sum : ReduceOp::Mean;
      for (int64_t id : s.buffers)
        if (Status st = collective->allReduceDevice(
                address(id), plan.buffers[id].size / int64_t(sizeof(float)), op,
                commStream);
            !st.isOk())
          return Status::error(plan.path +
                               ": all_reduce step: " + st.message());
      GROWC_CU(cu->cuEventRecord(done[i], commStream));
      reducing[i] = true;
      continue;
    }
    // Validation leaves the parameters and moments as they are.
    if (s.op == PlanStep::Op::AdamW && !mode.optimizer)
      continue;
    if (s.op == PlanStep::Op::Kernel || s.op == PlanStep::Op::Attention ||
        s.op == PlanStep::Op::AttentionGrad || s.op == PlanStep::Op::AdamW) {
      Launch &step = launches[i];
      for (Launch *l : step.passes.empty() ? std::vector<Launch *>{&step}
                                           : step.passesInOrder()) {
        const PlanLaunch &cfg = *l->launch;
        GROWC_CU(cu->cuLaunchKernel(
            l->fn, unsigned(cfg.grid[0]), unsigned(cfg.grid[1]),
            unsigned(cfg.grid[2]), unsigned(cfg.block[0]),
            unsigned(cfg.block[1]), unsigned(cfg.block[2]),
            unsigned(cfg.sharedBytes), stream, l->params.data(), nullptr));
      }
      continue;
    }
    Gemm &gemm = gemms[g++];
    float alpha = 1.0f, beta = float(s.beta);
    GROWC_LT(lt->cublasLtMatmul(
        handle, gemm.desc, &alpha,
        reinterpret_cast<void *>(address(s.b, s.bOffset)), gemm.a,
        reinterpret_cast<void *>(address(s.a, s.aOffset)), gemm.b, &beta,
        reinterpret_cast<void *>(address(s.c, s.cOffset)), gemm.c,
        reinterpret_cast<void *>(address(s.c, s.cOffset)), gemm.c, &gemm.algo,
        reinterpret_cast<void *>(workspace), kGemmWorkspaceBytes,
        reinterpret_cast<cudaStream_t>(stream)));
  }
  // Reductions nothing waited for join the compute stream at the end (and
  // a captured graph's fork joins back).
  if (Status st = join(plan.steps.size()); !st.isOk())
    return st;
  if (marks)
    GROWC_CU(cu->cuEventRecord(marks->back(), stream));
  // A training step's next values become the parameters, after every step
  // has read the old ones (older plans: next values in buffers of their
  // own).
  if (mode.copies)
    for (const Commit &c : commits)
      GROWC_CU(cu->cuMemcpyDtoDAsync(c.to, c.from, c.bytes, stream));
  return Status::ok();
}

Status CudaExecutor::State::run(RunMode mode) {
  const int key = graphKey(mode);
  if (auto it = graphs.find(key); it != graphs.end()) {
    GROWC_CU(cu->cuGraphLaunch(it->second, stream));
    return Status::ok();
  }
  if (Status s = prepareCommunication(); !s.isOk())
    return s;
  if (!algorithmsChosen)
    if (Status s = chooseAlgorithms(); !s.isOk())
      return s;
  if (Status s = enqueueSteps(mode); !s.isOk())
    return s;
  // A graph would freeze which gated (`when`) all_reduce steps ran.
  bool gated = false;
  for (const PlanStep &s : plan.steps)
    gated = gated || (s.op == PlanStep::Op::AllReduce && s.when >= 0);
  if (!options.useGraphs || (gated && communicates()))
    return Status::ok();
  // Later runs replay the whole sequence as one graph: one launch instead
  // of one per step.
  // Capturing records the steps without running them: the run above has
  // computed this call's results, and its update and commit must not
  // happen twice.
  GROWC_CU(cu->cuStreamSynchronize(stream));
  GROWC_CU(
      cu->cuStreamBeginCapture(stream, CU_STREAM_CAPTURE_MODE_THREAD_LOCAL));
  Status captured = enqueueSteps(mode);
  CUgraph graph = nullptr;
  CUresult ended = cu->cuStreamEndCapture(stream, &graph);
  if (!captured.isOk())
    return captured;
  GROWC_CU(ended);
  CUgraphExec graphExec = nullptr;
  CUresult made = cu->cuGraphInstantiate(&graphExec, graph, 0);
  cu->cuGraphDestroy(graph);
  GROWC_CU(made);
  graphs[key] = graphExec;
  return Status::ok();
}

Status CudaExecutor::State::copyInputs() {
  for (const PlanTensor &input : plan.inputs)
    GROWC_CU(cu->cuMemcpyHtoDAsync(address(input), hostData(input),
                                   size_t(input.byteSize), stream));
  return Status::ok();
}

CudaExecutor::CudaExecutor(std::unique_ptr<State> state)
    : state_(std::move(state)) {}
CudaExecutor::~CudaExecutor() = default;

StatusOr<std::unique_ptr<CudaExecutor>>
CudaExecutor::create(Plan plan, const Options &options) {
  auto state = std::make_unique<State>();
  state->plan = std::move(plan);
  state->options = options;
  if (Status s = state->prepare(); !s.isOk())
    return s;
  return std::unique_ptr<CudaExecutor>(new CudaExecutor(std::move(state)));
}

const Plan &CudaExecutor::plan() const { return state_->plan; }
const std::string &CudaExecutor::deviceName() const {
  return state_->deviceName;
}

Status CudaExecutor::State::checkBf16Copies() const {
  for (const PlanParam &param : plan.params)
    if (param.bf16Copy >= 0 &&
        (param.dtype != DType::F32 || plan.buffers[param.bf16Copy].size <
                                          (param.offset + param.byteSize) / 2))
      return Status::error(plan.path + ": parameter " + inQuotes(param.name) +
                           ": a bf16 copy needs an F32 parameter and " +
                           std::to_string((param.offset + param.byteSize) / 2) +
                           " bytes");
  return Status::ok();
}

Status CudaExecutor::loadParams(const Checkpoint &checkpoint) {
  State &st = *state_;
  StatusOr<std::vector<ParamLoad>> loads = planParamLoad(st.plan, checkpoint);
  if (!loads.isOk())
    return loads.status();
  if (Status s = st.checkBf16Copies(); !s.isOk())
    return s;
  auto &cu = st.cu;
  for (const ParamLoad &load : *loads) {
    const PlanParam &param = *load.param;
    if (load.tensor)
      continue;
    GROWC_CU(cu->cuMemsetD8Async(st.address(param), 0, size_t(param.byteSize),
                                 st.stream));
    if (param.bf16Copy >= 0) // bf16(0) = 0
      GROWC_CU(cu->cuMemsetD8Async(st.bf16CopyAddress(param), 0,
                                   size_t(param.byteSize / 2), st.stream));
  }
  GROWC_CU(cu->cuStreamSynchronize(st.stream));
  // Tensors already in the plan's dtype go straight from the mapping.
  std::vector<uint8_t> converted;
  for (const ParamLoad &load : *loads) {
    if (!load.tensor)
      continue;
    const void *source = load.tensor->data;
    if (load.tensor->dtype != load.param->dtype) {
      try {
        converted.resize(size_t(load.param->byteSize));
      } catch (const std::bad_alloc &) {
        return Status::error(checkpoint.path() + ": out of memory");
      }
      load.writeTo(converted.data());
      source = converted.data();
    }
    GROWC_CU(cu->cuMemcpyHtoD(st.address(*load.param), source,
                              size_t(load.param->byteSize)));
    // The GEMMs read the bf16 copy: it starts as the loaded value rounded.
    if (load.param->bf16Copy >= 0) {
      std::vector<uint16_t> copy =
          roundToBf16(source, load.param->byteSize / 4);
      GROWC_CU(cu->cuMemcpyHtoD(st.bf16CopyAddress(*load.param), copy.data(),
                                copy.size() * sizeof(uint16_t)));
    }
  }
  st.paramsLoaded = true;
  return Status::ok();
}

StatusOr<std::map<std::string, OutputTensor>> CudaExecutor::State::execute(
    const TensorView &tokens, const TensorView *targets,
    const std::map<std::string, float> &scalars, RunMode mode,
    const std::function<bool(const PlanTensor &)> &fetch) {
  if (Status s = stageRunInputs(
          plan, paramsLoaded, tokens, targets, scalars,
          [&](const PlanTensor &input) { return hostData(input); });
      !s.isOk())
    return s;
  if (Status s = copyInputs(); !s.isOk())
    return s;
  if (Status s = run(mode); !s.isOk())
    return s;
  // Every host image at its full size before the first copy is enqueued:
  // outputs may share a buffer, and growing its image for a later one would
  // move the bytes an earlier copy is still writing.
  for (const PlanTensor &output : plan.outputs)
    if (!fetch || fetch(output)) {
      std::vector<uint8_t> &host = hostBuffers[output.buffer];
      host.resize(
          std::max(host.size(), size_t(output.offset + output.byteSize)));
    }
  for (const PlanTensor &output : plan.outputs)
    if (!fetch || fetch(output))
      GROWC_CU(cu->cuMemcpyDtoHAsync(hostData(output), address(output),
                                     size_t(output.byteSize), stream));
  GROWC_CU(cu->cuStreamSynchronize(stream));
  return collectRunOutputs(
      plan, tokens, targets,
      [&](const PlanTensor &output) {
        return reinterpret_cast<const float *>(hostData(output));
      },
      fetch);
}

StatusOr<std::map<std::string, OutputTensor>>
CudaExecutor::forward(const TensorView &tokens, const TensorView *targets,
                      const std::map<std::string, float> &scalars) {
  // A train graph's outputs are its next values: its optimizer runs.
  return state_->execute(tokens, targets, scalars, State::kForward,
                         /*fetch=*/nullptr);
}

void CudaExecutor::setCollective(Collective *collective) {
  state_->collective = collective;
}

StatusOr<std::map<std::string, OutputTensor>>
CudaExecutor::trainStep(const TensorView &tokens, const TensorView &targets,
                        const std::map<std::string, float> &scalars,
                        bool commit) {
  State &st = *state_;
  if (st.plan.graph != "train")
    return Status::error(st.plan.path + ": a " + st.plan.graph +
                         " graph; a training step runs a train graph");
  // Only the loss comes back; next values stay on the device.
  return st.execute(
      tokens, &targets, scalars, commit ? State::kCommit : State::kValidate,
      [&](const PlanTensor &output) { return !st.isNextValue(output); });
}

StatusOr<CudaExecutor::StepProfile>
CudaExecutor::profile(const TensorView &tokens, const TensorView *targets,
                      const std::map<std::string, float> &scalars,
                      int repeats) {
  State &st = *state_;
  auto &cu = st.cu;
  // A first run chooses the algorithms and faults everything in. Runs are
  // forward() runs: a train graph's optimizer is timed too (and moves the
  // parameters by a step each time; the outputs were taken before).
  if (StatusOr<std::map<std::string, OutputTensor>> warm =
          st.execute(tokens, targets, scalars, State::kForward,
                     [](const PlanTensor &) { return false; });
      !warm.isOk())
    return warm.status();
  const size_t n = st.plan.steps.size();
  StepProfile result;
  result.stepMs.assign(n, 0.0);
  result.bestGemmMs.assign(n, 0.0);
  std::vector<CUevent> marks(n + 1, nullptr);
  CUdeviceptr from = 0, to = 0;
  auto measure = [&]() -> Status {
    for (CUevent &mark : marks)
      GROWC_CU(cu->cuEventCreate(&mark, CU_EVENT_DEFAULT));
    // The steps one by one (no graph), events between them.
    for (int r = 0; r < repeats; ++r) {
      if (Status s = st.enqueueSteps(State::kForward, &marks); !s.isOk())
        return s;
      GROWC_CU(cu->cuEventSynchronize(marks.back()));
      for (size_t i = 0; i < n; ++i) {
        float ms = 0;
        GROWC_CU(cu->cuEventElapsedTime(&ms, marks[i], marks[i + 1]));
        result.stepMs[i] += double(ms) / repeats;
      }
    }
    // Each GEMM's fastest plain candidate, timed alone.
    size_t g = 0;
    for (size_t i = 0; i < n; ++i) {
      if (st.plan.steps[i].op != PlanStep::Op::Gemm)
        continue;
      StatusOr<std::vector<TimedAlgorithm>> timed =
          timeGemmCandidates(st.gemmDevice(), st.callOf(st.gemms[g++]), 32);
      if (!timed.isOk())
        return timed.status();
      result.bestGemmMs[i] = timed->front().ms;
      for (const TimedAlgorithm &candidate : *timed)
        result.bestGemmMs[i] = std::min(result.bestGemmMs[i], candidate.ms);
    }
    // The device's copy bandwidth: bytes read and written per second by
    // cuMemcpyDtoD of 256 MiB, the best of 10.
    constexpr size_t kCopyBytes = size_t(256) << 20;
    GROWC_CU(cu->cuMemAlloc(&from, kCopyBytes));
    GROWC_CU(cu->cuMemAlloc(&to, kCopyBytes));
    GROWC_CU(cu->cuMemcpyDtoDAsync(to, from, kCopyBytes, st.stream));
    float best = 0;
    for (int r = 0; r < 10; ++r) {
      GROWC_CU(cu->cuEventRecord(marks[0], st.stream));
      GROWC_CU(cu->cuMemcpyDtoDAsync(to, from, kCopyBytes, st.stream));
      GROWC_CU(cu->cuEventRecord(marks[1], st.stream));
      GROWC_CU(cu->cuEventSynchronize(marks[1]));
      float ms = 0;
      GROWC_CU(cu->cuEventElapsedTime(&ms, marks[0], marks[1]));
      best = r == 0 ? ms : std::min(best, ms);
    }
    result.copyBytesPerSecond = 2.0 * double(kCopyBytes) / (best * 1e-3);
    return Status::ok();
  };
  Status status = measure();
  for (CUevent mark : marks)
    if (mark)
      cu->cuEventDestroy(mark);
  for (CUdeviceptr buffer : {from, to})
    if (buffer)
      cu->cuMemFree(buffer);
  if (!status.isOk())
    return status;
  return result;
}

StatusOr<std::vector<TensorToWrite>> CudaExecutor::readParams() {
  State &st = *state_;
  auto &cu = st.cu;
  GROWC_CU(cu->cuStreamSynchronize(st.stream));
  st.paramMirror.resize(st.plan.params.size());
  std::vector<TensorToWrite> tensors;
  for (size_t i = 0; i < st.plan.params.size(); ++i) {
    const PlanParam &param = st.plan.params[i];
    std::vector<uint8_t> &host = st.paramMirror[i];
    host.resize(size_t(param.byteSize));
    GROWC_CU(cu->cuMemcpyDtoH(host.data(), st.address(param), host.size()));
    tensors.push_back(
        {param.name, param.dtype, param.shape, host.data(), host.size()});
  }
  return tensors;
}

StatusOr<std::vector<uint8_t>> CudaExecutor::readBuffer(int64_t id) {
  State &st = *state_;
  if (id < 0 || id >= int64_t(st.plan.buffers.size()))
    return Status::error(st.plan.path + ": no buffer " + std::to_string(id));
  auto &cu = st.cu;
  std::vector<uint8_t> bytes(size_t(st.plan.buffers[id].size));
  GROWC_CU(cu->cuStreamSynchronize(st.stream));
  GROWC_CU(cu->cuMemcpyDtoH(bytes.data(), st.address(id), bytes.size()));
  return bytes;
}

StatusOr<MigrationReport> CudaExecutor::migrateFrom(const Executor &previous,
                                                    bool zeroCopiedMoments) {
  State &st = *state_;
  auto &cu = st.cu;
  const auto *gpu = dynamic_cast<const CudaExecutor *>(&previous);
  if (!gpu || gpu->state_->device != st.device)
    return Status::error(st.plan.path + ": cannot take the training state of " +
                         previous.describe() + " (a growth run stays on " +
                         st.deviceName + ")");
  const State &from = *gpu->state_;
  StatusOr<std::vector<ParamMove>> moves =
      planParamMigration(st.plan, from.plan, zeroCopiedMoments);
  if (!moves.isOk())
    return moves.status();
  if (Status s = st.checkBf16Copies(); !s.isOk())
    return s;
  // The previous stage's last step must have finished writing.
  GROWC_CU(cu->cuStreamSynchronize(from.stream));
  // Parameters with a bf16 copy whose source has none (a stage compiled
  // for fp32): rounded on the host once their value is here.
  std::vector<const PlanParam *> rounded;
  for (const ParamMove &move : *moves) {
    const PlanParam &to = *move.to;
    size_t bytes = size_t(to.byteSize);
    if (move.from) {
      GROWC_CU(cu->cuMemcpyDtoDAsync(st.address(to), from.address(*move.from),
                                     bytes, st.stream));
    } else {
      GROWC_CU(cu->cuMemsetD8Async(st.address(to), 0, bytes, st.stream));
    }
    if (to.bf16Copy < 0)
      continue;
    // The copy moves with its parameter (it is bf16 of the same value).
    if (move.from && move.from->bf16Copy >= 0)
      GROWC_CU(cu->cuMemcpyDtoDAsync(st.bf16CopyAddress(to),
                                     from.bf16CopyAddress(*move.from),
                                     bytes / 2, st.stream));
    else if (move.from)
      rounded.push_back(&to);
    else
      GROWC_CU(
          cu->cuMemsetD8Async(st.bf16CopyAddress(to), 0, bytes / 2, st.stream));
  }
  GROWC_CU(cu->cuStreamSynchronize(st.stream));
  std::vector<uint8_t> value;
  for (const PlanParam *param : rounded) {
    value.resize(size_t(param->byteSize));
    GROWC_CU(cu->cuMemcpyDtoH(value.data(), st.address(*param), value.size()));
    std::vector<uint16_t> copy = roundToBf16(value.data(), param->byteSize / 4);
    GROWC_CU(cu->cuMemcpyHtoD(st.bf16CopyAddress(*param), copy.data(),
                              copy.size() * sizeof(uint16_t)));
  }
  st.paramsLoaded = true;
  return reportOf(*moves);
}

//===- CpuExecutor.cpp - Runs a CPU artifact's plan -----------------------===//
//
// Everything that can be resolved once is resolved in prepare(): kernel
// function pointers, buffer addresses and GEMM dimensions, so that a run is a
// loop of indirect calls with no lookups and no allocation beyond the
// returned outputs. The plan has been verified when it was loaded, so buffer
// addresses computed here are inside the arena.
//
//===----------------------------------------------------------------------===//

#include "growc/runtime/CpuExecutor.h"
#include "growc/runtime/KernelsFile.h"
#include "growc/runtime/Text.h"

#include <cblas.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <mutex>
#include <new>

#include <dlfcn.h>
#include <malloc.h>
#include <sys/mman.h>
#include <unistd.h>

namespace growc::rt {

namespace {

/// Multiply-adds below which a GEMM runs on the calling thread alone.
constexpr double kSmallGemmMacs = 4e6;

using Clock = std::chrono::steady_clock;

double secondsSince(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

/// Generated kernels allocate their block-local temporaries (attention's
/// score and probability tiles, ~150 KB each) with malloc inside their
/// loops. Above glibc's default 128 KB mmap threshold every such malloc is
/// an mmap, page faults and an munmap: measured 30% of attention's time on
/// SmolLM-135M. Served from the heap instead, they reuse warm pages.
void keepKernelTemporariesOnTheHeap() {
  static std::once_flag once;
  std::call_once(once, [] {
    ::mallopt(M_MMAP_THRESHOLD, 64 << 20);
    ::mallopt(M_TRIM_THRESHOLD, 256 << 20);
  });
}

/// bf16 is the upper half of an fp32: widening is a shift, exact.
void widenBf16(const uint16_t *from, std::vector<float> &to) {
  for (size_t i = 0; i < to.size(); ++i) {
    uint32_t bits = uint32_t(from[i]) << 16;
    std::memcpy(&to[i], &bits, sizeof(bits));
  }
}

/// fp32 to bf16, round to nearest even (what the GPU's cvt.rn.bf16.f32 and
/// the kernels' arith.truncf do); NaNs stay quiet NaNs.
inline uint16_t bf16Of(float x) {
  uint32_t bits;
  std::memcpy(&bits, &x, sizeof(bits));
  if ((bits & 0x7fffffffu) > 0x7f800000u)
    return uint16_t((bits >> 16) | 0x40u);
  return uint16_t((bits + 0x7fffu + ((bits >> 16) & 1u)) >> 16);
}

void roundToBf16(const float *from, int64_t n, uint16_t *to) {
  for (int64_t i = 0; i < n; ++i)
    to[i] = bf16Of(from[i]);
}

/// Elements per partial sum of the adamw step's squared norm: fixed, so
/// that the sum (partials added in chunk order) is the same for every
/// thread count.
constexpr int64_t kNormChunk = 65536;

/// Floats below which the adamw update runs on the calling thread alone.
constexpr int64_t kSmallUpdate = 32768;

/// Σ x² over n floats in double. Eight running sums (element i into sum
/// i % 8) added in a fixed tree: deterministic, and independent sums the
/// compiler keeps in vector registers.
double sumOfSquares(const float *x, int64_t n) {
  double lanes[8] = {};
  int64_t i = 0;
  for (; i + 8 <= n; i += 8)
    for (int l = 0; l < 8; ++l)
      lanes[l] += double(x[i + l]) * double(x[i + l]);
  for (int l = 0; i < n; ++i, ++l)
    lanes[l] += double(x[i]) * double(x[i]);
  return ((lanes[0] + lanes[1]) + (lanes[2] + lanes[3])) +
         ((lanes[4] + lanes[5]) + (lanes[6] + lanes[7]));
}

/// sqrtf without errno (the argument is never negative here), so that
/// loops using it vectorize.
inline float squareRoot(float x) { return __builtin_elementwise_sqrt(x); }

/// Makes OpenBLAS single-threaded, once per process: the executor splits
/// GEMMs over its own threads. The setter is looked up dynamically because
/// it is an OpenBLAS extension that other CBLAS implementations lack.
void makeBlasSingleThreaded() {
  static std::once_flag once;
  std::call_once(once, [] {
    using SetThreadsFn = void (*)(int);
    auto setThreads = reinterpret_cast<SetThreadsFn>(
        ::dlsym(RTLD_DEFAULT, "openblas_set_num_threads"));
    if (setThreads)
      setThreads(1);
  });
}

} // namespace

//===----------------------------------------------------------------------===//
// Preparation
//===----------------------------------------------------------------------===//

StatusOr<std::unique_ptr<CpuExecutor>> CpuExecutor::create(Plan plan,
                                                           int threads) {
  const std::string path = plan.path; // For messages after the move.
  try {
    std::unique_ptr<CpuExecutor> executor(
        new CpuExecutor(std::move(plan), threads));
    Status status = executor->prepare();
    if (!status.isOk())
      return status;
    return executor;
  } catch (const std::bad_alloc &) {
    return Status::error(path + ": out of memory preparing the plan");
  } catch (const std::exception &e) {
    return Status::error(path + ": " + e.what());
  }
}

StatusOr<std::unique_ptr<CpuExecutor>>
CpuExecutor::load(const std::string &artifact, int threads) {
  StatusOr<Plan> plan = loadPlan(planPathFor(artifact));
  if (!plan.isOk())
    return plan.status();
  return create(std::move(*plan), threads);
}

CpuExecutor::~CpuExecutor() {
  if (mapping_)
    ::munmap(mapping_, mappingSize_);
  if (dlHandle_)
    ::dlclose(dlHandle_);
}

Status CpuExecutor::prepare() {
  const std::string &path = plan_.path;
  if (plan_.target != "cpu")
    return Status::error(path + ": the plan targets " + inQuotes(plan_.target) +
                         ", not 'cpu'; the CPU executor cannot run it");

  // Only the kernels file the plan was compiled with is loaded: dlopen runs
  // the file's initialisers, and its kernels trust the plan's shapes.
  if (Status status = checkKernelsFileHash(plan_); !status.isOk())
    return status;
  // RTLD_NOW: a kernels file with unresolved references fails here, with
  // dlerror's message, rather than at the first call. RTLD_LOCAL: kernels
  // of different artifacts use the same symbol names.
  dlHandle_ = ::dlopen(plan_.kernelsPath.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (!dlHandle_) {
    const char *err = ::dlerror();
    return Status::error(path + ": cannot load kernels file " +
                         plan_.kernelsPath + ": " +
                         (err ? err : "unknown dlopen error"));
  }
  std::vector<KernelFn> kernelFns;
  for (const PlanKernel &kernel : plan_.kernels) {
    ::dlerror(); // Clear a stale error.
    void *sym = ::dlsym(dlHandle_, kernel.symbol.c_str());
    if (!sym) {
      const char *err = ::dlerror();
      return Status::error(
          path + ": kernels file " + plan_.kernelsPath +
          " does not export symbol " + inQuotes(kernel.symbol) + " of kernel " +
          inQuotes(kernel.name) + ": " + (err ? err : "symbol is null"));
    }
    kernelFns.push_back(reinterpret_cast<KernelFn>(sym));
  }
  // The kernels as compiled: the plan must describe each exactly so.
  ::dlerror();
  const char *signatures =
      static_cast<const char *>(::dlsym(dlHandle_, kKernelSignaturesSymbol));
  if (!signatures)
    return Status::error(path + ": kernels file " + plan_.kernelsPath +
                         " has no kernel signature table (" +
                         kKernelSignaturesSymbol +
                         "); recompile it with this growc");
  if (Status status = checkKernelSignatures(plan_, signatures); !status.isOk())
    return status;

  // The arena: an anonymous mapping is zero-filled without touching the
  // pages and page-aligned; a larger alignment is obtained by over-mapping.
  const size_t alignment = static_cast<size_t>(plan_.alignment);
  const size_t pageSize = static_cast<size_t>(::sysconf(_SC_PAGESIZE));
  mappingSize_ = std::max<size_t>(static_cast<size_t>(plan_.arenaSize), 1);
  if (alignment > pageSize)
    mappingSize_ += alignment;
  void *mapping = ::mmap(nullptr, mappingSize_, PROT_READ | PROT_WRITE,
                         MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (mapping == MAP_FAILED)
    return Status::error(path + ": cannot allocate the arena of " +
                         std::to_string(plan_.arenaSize) +
                         " bytes: " + std::strerror(errno));
  mapping_ = mapping;
  uintptr_t base = reinterpret_cast<uintptr_t>(mapping);
  base = (base + alignment - 1) & ~(uintptr_t(alignment) - 1);
  arena_ = reinterpret_cast<uint8_t *>(base);
  // Zeroed buffers start at zero whatever the arena's fill (the mapping is
  // zero already; this says so).
  for (const PlanBuffer &buffer : plan_.buffers)
    if (buffer.zeroed)
      std::memset(arena_ + buffer.offset, 0, static_cast<size_t>(buffer.size));

  for (const PlanStep &step : plan_.steps) {
    PreparedStep prepared;
    prepared.op = step.op;
    switch (step.op) {
    case PlanStep::Op::Kernel:
      prepared.fn = kernelFns[step.kernel];
      prepared.kernel = static_cast<size_t>(step.kernel);
      prepared.blocks = plan_.kernels[step.kernel].blocks;
      for (int64_t id : step.args)
        prepared.args.push_back(bufferAddress(id));
      break;
    case PlanStep::Op::Gemm:
      // The plan checked that each operand, from its offset, fits its
      // buffer.
      prepared.a =
          reinterpret_cast<const float *>(bufferAddress(step.a) + step.aOffset);
      prepared.b =
          reinterpret_cast<const float *>(bufferAddress(step.b) + step.bOffset);
      prepared.c =
          reinterpret_cast<float *>(bufferAddress(step.c) + step.cOffset);
      // bf16 operands run through fp32 copies: widening is exact, so the
      // sgemm computes what an fp32-accumulating bf16 GEMM does (up to the
      // order of its sums).
      if (step.aType == DType::BF16) {
        prepared.a16 = reinterpret_cast<const uint16_t *>(prepared.a);
        prepared.wideA.resize(size_t(step.m) * size_t(step.k));
        prepared.a = prepared.wideA.data();
      }
      if (step.bType == DType::BF16) {
        prepared.b16 = reinterpret_cast<const uint16_t *>(prepared.b);
        prepared.wideB.resize(size_t(step.n) * size_t(step.k));
        prepared.b = prepared.wideB.data();
      }
      if (step.cType == DType::BF16) {
        prepared.c16 = reinterpret_cast<uint16_t *>(prepared.c);
        prepared.wideC.resize(size_t(step.m) * size_t(step.n));
        prepared.c = prepared.wideC.data();
      }
      // The plan bounds m, n, k by INT32_MAX.
      prepared.m = static_cast<int>(step.m);
      prepared.n = static_cast<int>(step.n);
      prepared.k = static_cast<int>(step.k);
      prepared.beta = static_cast<float>(step.beta);
      prepared.transA = step.transA != 0;
      prepared.transB = step.transB != 0;
      break;
    case PlanStep::Op::Attention:
    case PlanStep::Op::AttentionGrad:
      // The plan admits these only for the GPU target.
      return Status::error(path + ": an attention step runs the GPU kernel "
                                  "library's PTX; the CPU cannot run it");
    case PlanStep::Op::AllReduce:
      // The plan checked that the buffers hold whole floats.
      for (int64_t id : step.buffers)
        prepared.reduce.emplace_back(
            reinterpret_cast<float *>(bufferAddress(id)),
            plan_.buffers[id].size / int64_t(sizeof(float)));
      if (step.when >= 0)
        prepared.when =
            reinterpret_cast<const float *>(bufferAddress(step.when));
      prepared.reduction =
          step.reduction == PlanReduction::Sum ? ReduceOp::Sum : ReduceOp::Mean;
      break;
    case PlanStep::Op::AdamW: {
      // The plan checked the layout: each list is one flat F32 region of
      // the same element layout, so its first buffer's address is the
      // region's.
      PreparedStep::AdamW &adam = prepared.adam;
      auto floats = [&](int64_t id) {
        return id < 0 ? nullptr : reinterpret_cast<float *>(bufferAddress(id));
      };
      adam.params = floats(step.adamParams[0]);
      adam.grads = floats(step.adamGrads[0]);
      adam.expAvg = floats(step.adamExpAvg[0]);
      adam.expAvgSq = floats(step.adamExpAvgSq[0]);
      if (!step.adamGradSums.empty())
        adam.gradSums = floats(step.adamGradSums[0]);
      if (!step.adamBf16Params.empty())
        adam.bf16Params =
            reinterpret_cast<uint16_t *>(bufferAddress(step.adamBf16Params[0]));
      adam.n = adamWElementCount(plan_, step);
      adam.lr = floats(step.adamLr);
      adam.step = floats(step.adamStep);
      adam.apply = floats(step.adamApply);
      adam.lossNonfinite = floats(step.adamLossNonfinite);
      adam.gradNorm = floats(step.adamGradNorm);
      adam.nonfinite = floats(step.adamNonfinite);
      adam.beta1 = step.beta1;
      adam.beta2 = step.beta2;
      adam.eps = step.eps;
      adam.weightDecay = step.weightDecay;
      adam.maxGradNorm = step.maxGradNorm;
      adam.partials.resize(size_t((adam.n + kNormChunk - 1) / kNormChunk));
      break;
    }
    }
    steps_.push_back(std::move(prepared));
  }
  nextValues_ = planNextValues(plan_);

  // A plan without parameters needs no checkpoint.
  paramsLoaded_ = plan_.params.empty();
  makeBlasSingleThreaded();
  keepKernelTemporariesOnTheHeap();
  return Status::ok();
}

//===----------------------------------------------------------------------===//
// Parameters
//===----------------------------------------------------------------------===//

Status CpuExecutor::loadParams(const Checkpoint &checkpoint) {
  StatusOr<std::vector<ParamLoad>> loads = planParamLoad(plan_, checkpoint);
  if (!loads.isOk())
    return loads.status();
  for (const ParamLoad &load : *loads)
    load.writeTo(tensorAddress(*load.param));
  for (const PlanParam &param : plan_.params)
    roundBf16Copy(param);
  paramsLoaded_ = true;
  return Status::ok();
}

void CpuExecutor::roundBf16Copy(const PlanParam &param) {
  if (param.bf16Copy < 0)
    return;
  const auto *from = reinterpret_cast<const float *>(tensorAddress(param));
  uint16_t *to = bf16CopyAddress(param);
  pool_->parallelFor(param.numElements, [&](int64_t begin, int64_t end) {
    roundToBf16(from + begin, end - begin, to + begin);
  });
}

const uint16_t *CpuExecutor::bf16Copy(const PlanParam &param) const {
  return param.bf16Copy < 0 ? nullptr : bf16CopyAddress(param);
}

//===----------------------------------------------------------------------===//
// Running
//===----------------------------------------------------------------------===//

Status CpuExecutor::commitNextValues(
    const std::map<std::string, OutputTensor> &outputs) {
  for (const NextValue &next : nextValues_) {
    auto it = outputs.find(next.output->name);
    if (it == outputs.end())
      continue;
    const OutputTensor &output = it->second;
    const PlanParam &param = *next.param;
    if (output.numElements * 4 != param.byteSize)
      return Status::error(plan_.path + ": output " + inQuotes(param.name) +
                           " does not have its parameter's size");
    std::memmove(tensorAddress(param), output.data,
                 static_cast<size_t>(param.byteSize));
    roundBf16Copy(param);
  }
  return Status::ok();
}

std::vector<TensorToWrite> CpuExecutor::paramTensors() const {
  std::vector<TensorToWrite> tensors;
  for (const PlanParam &param : plan_.params)
    tensors.push_back({param.name, param.dtype, param.shape,
                       tensorAddress(param),
                       static_cast<size_t>(param.byteSize)});
  return tensors;
}

StatusOr<CpuExecutor::Migration>
CpuExecutor::migrateFrom(const CpuExecutor &previous, bool zeroCopiedMoments) {
  StatusOr<std::vector<ParamMove>> moves =
      planParamMigration(plan_, previous.plan_, zeroCopiedMoments);
  if (!moves.isOk())
    return moves.status();
  for (const ParamMove &move : *moves) {
    uint8_t *to = tensorAddress(*move.to);
    if (move.from)
      std::memcpy(to, previous.tensorAddress(*move.from),
                  static_cast<size_t>(move.to->byteSize));
    else
      std::memset(to, 0, static_cast<size_t>(move.to->byteSize));
  }
  // The copies follow their parameters (re-rounded: the same bits as the
  // source's copy, which was bf16 of the same value).
  for (const PlanParam &param : plan_.params)
    roundBf16Copy(param);
  paramsLoaded_ = true;
  return reportOf(*moves);
}

StatusOr<MigrationReport> CpuExecutor::migrateFrom(const Executor &previous,
                                                   bool zeroCopiedMoments) {
  const auto *cpu = dynamic_cast<const CpuExecutor *>(&previous);
  if (!cpu)
    return Status::error(plan_.path + ": cannot take the training state of " +
                         previous.describe() +
                         " (a growth run stays on one device)");
  return migrateFrom(*cpu, zeroCopiedMoments);
}

std::string CpuExecutor::describe() const {
  return "cpu (" + std::to_string(threads()) + " threads)";
}

StatusOr<std::map<std::string, OutputTensor>>
CpuExecutor::trainStep(const TensorView &tokens, const TensorView &targets,
                       const std::map<std::string, float> &scalars,
                       bool commit) {
  // A non-committing run (validation) leaves the state alone: no adamw
  // step, no copies.
  StatusOr<std::map<std::string, OutputTensor>> outputs =
      run(tokens, &targets, scalars, nullptr, /*runOptimizer=*/commit);
  if (!outputs.isOk())
    return outputs;
  if (commit)
    if (Status status = commitNextValues(*outputs); !status.isOk())
      return status;
  for (auto it = outputs->begin(); it != outputs->end();)
    it = plan_.findParam(it->first) ? outputs->erase(it) : std::next(it);
  return outputs;
}

Status CpuExecutor::checkTokens(const TensorView &tokens) const {
  return rt::checkTokens(plan_, tokens);
}

Status CpuExecutor::checkTargets(const TensorView &tokens,
                                 const TensorView &targets) const {
  return rt::checkTargets(plan_, tokens, targets);
}

StatusOr<std::map<std::string, OutputTensor>>
CpuExecutor::forward(const TensorView &tokens, const TensorView *targets,
                     const std::map<std::string, float> &scalars,
                     const TensorView *split) {
  return run(tokens, targets, scalars, split, /*runOptimizer=*/true);
}

void CpuExecutor::runAdamW(PreparedStep::AdamW &a) {
  // The squared norm: fixed chunks in double, summed in chunk order, so the
  // result is the same for every thread count.
  const int64_t chunks = int64_t(a.partials.size());
  pool_->parallelFor(chunks, [&](int64_t begin, int64_t end) {
    for (int64_t c = begin; c < end; ++c)
      a.partials[c] = sumOfSquares(a.grads + c * kNormChunk,
                                   std::min(kNormChunk, a.n - c * kNormChunk));
  });
  double sum = 0;
  for (double partial : a.partials)
    sum += partial;
  const float sq = float(sum);
  const float norm = squareRoot(sq);
  *a.gradNorm = norm;
  const float coef = std::fmin(float(a.maxGradNorm) / (norm + 1e-6f), 1.0f);
  // A bad loss or gradient skips the update, so that it never reaches the
  // state; the flag says so.
  const float flag = *a.lossNonfinite > 0.5f ? 1.0f
                     : std::isfinite(sq)     ? 0.0f
                                             : 1.0f;
  *a.nonfinite = flag;
  const float update = flag > 0.5f ? 0.0f : (a.apply ? *a.apply : 1.0f);
  const bool applied = update > 0.5f;
  const bool resetSums = a.apply && *a.apply > 0.5f;
  if (!applied && !a.gradSums)
    return;

  // The scalars, in f32 as the graph computed them: bias corrections
  // 1 - β^step = 1 - exp(step · log β).
  const float lr = *a.lr, step = *a.step;
  const float beta1 = float(a.beta1), beta2 = float(a.beta2);
  const float oneMinusBeta1 = float(1.0 - a.beta1),
              oneMinusBeta2 = float(1.0 - a.beta2);
  const float eps = float(a.eps);
  const float c1 = 1.0f - std::exp(step * float(std::log(a.beta1)));
  const float c2 = 1.0f - std::exp(step * float(std::log(a.beta2)));
  const float stepSize = lr / c1, sqrtC2 = squareRoot(c2);
  const float decay = 1.0f - lr * float(a.weightDecay);
  float *params = a.params, *expAvg = a.expAvg, *expAvgSq = a.expAvgSq,
        *gradSums = a.gradSums;
  const float *grads = a.grads;
  uint16_t *bf16Params = a.bf16Params;
  auto updateAt = [&](int64_t i) {
    const float g = grads[i] * coef;
    const float m = expAvg[i] * beta1 + g * oneMinusBeta1;
    const float v = expAvgSq[i] * beta2 + (g * g) * oneMinusBeta2;
    const float denom = squareRoot(v) / sqrtC2 + eps;
    const float p = params[i] * decay - stepSize * (m / denom);
    params[i] = p;
    expAvg[i] = m;
    expAvgSq[i] = v;
    return p;
  };
  auto range = [&](int64_t begin, int64_t end) {
    // Two loops, so that the f32-only one stays as it was.
    if (applied && bf16Params)
      for (int64_t i = begin; i < end; ++i)
        bf16Params[i] = bf16Of(updateAt(i));
    else if (applied)
      for (int64_t i = begin; i < end; ++i)
        updateAt(i);
    if (gradSums) {
      if (resetSums)
        std::fill(gradSums + begin, gradSums + end, 0.0f);
      else
        std::copy(grads + begin, grads + end, gradSums + begin);
    }
  };
  if (a.n < kSmallUpdate)
    range(0, a.n);
  else
    pool_->parallelFor(a.n, range);
}

StatusOr<std::map<std::string, OutputTensor>>
CpuExecutor::run(const TensorView &tokens, const TensorView *targets,
                 const std::map<std::string, float> &scalars,
                 const TensorView *split, bool runOptimizer) {
  try {
    Clock::time_point start = Clock::now();
    if (Status status = stageRunInputs(
            plan_, paramsLoaded_, tokens, targets, scalars,
            [&](const PlanTensor &input) { return tensorAddress(input); },
            split);
        !status.isOk())
      return status;
    timings_.other.seconds += secondsSince(start);

    timings_.perStep.resize(steps_.size());
    for (size_t index = 0; index < steps_.size(); ++index) {
      PreparedStep &step = steps_[index];
      Clock::time_point stepStart = Clock::now();
      switch (step.op) {
      case PlanStep::Op::Kernel:
        pool_->parallelFor(step.blocks, [&](int64_t begin, int64_t end) {
          step.fn(step.args.data(), begin, end);
        });
        {
          double seconds = secondsSince(stepStart);
          timings_.kernel.seconds += seconds;
          ++timings_.kernel.calls;
          if (timings_.perKernel.size() < plan_.kernels.size())
            timings_.perKernel.resize(plan_.kernels.size());
          timings_.perKernel[step.kernel].seconds += seconds;
          ++timings_.perKernel[step.kernel].calls;
        }
        break;
      case PlanStep::Op::Gemm: {
        // C[m, n] = op(A) * op(B) (+ C when beta is 1), row-major; rows of
        // C split over the threads, unless the GEMM is too small to repay
        // waking them (below ~8 MFLOP: a few hundred microseconds).
        bool small = double(step.m) * step.n * step.k < kSmallGemmMacs;
        if (step.a16)
          widenBf16(step.a16, step.wideA);
        if (step.b16)
          widenBf16(step.b16, step.wideB);
        if (step.c16 && step.beta != 0.0f)
          widenBf16(step.c16, step.wideC);
        pool_->parallelFor(small ? 1 : step.m, [&](int64_t begin, int64_t end) {
          if (small)
            end = step.m;
          // Rows [begin, end) of C: rows of A, or columns of a stored Aᵀ.
          const float *a =
              step.transA ? step.a + begin : step.a + begin * step.k;
          cblas_sgemm(CblasRowMajor, step.transA ? CblasTrans : CblasNoTrans,
                      step.transB ? CblasTrans : CblasNoTrans,
                      static_cast<int>(end - begin), step.n, step.k, 1.0f, a,
                      step.transA ? step.m : step.k, step.b,
                      step.transB ? step.k : step.n, step.beta,
                      step.c + begin * step.n, step.n);
        });
        if (step.c16)
          roundToBf16(step.wideC.data(), int64_t(step.wideC.size()), step.c16);
        timings_.gemm.seconds += secondsSince(stepStart);
        ++timings_.gemm.calls;
        break;
      }
      case PlanStep::Op::Attention: // refused when the plan was prepared
      case PlanStep::Op::AttentionGrad:
        break;
      case PlanStep::Op::AllReduce: {
        // Blocking: the CPU has no second stream to overlap it with, and
        // the ranks' threads are busy with their own backward passes.
        if (!collective_ || collective_->size() == 1 ||
            (step.when && !(*step.when > 0.5f)))
          break;
        for (auto [data, count] : step.reduce)
          if (Status status =
                  collective_->allReduce(data, count, step.reduction);
              !status.isOk())
            return Status::error(plan_.path +
                                 ": all_reduce step: " + status.message());
        timings_.allReduce.seconds += secondsSince(stepStart);
        ++timings_.allReduce.calls;
        break;
      }
      case PlanStep::Op::AdamW:
        if (!runOptimizer)
          break;
        runAdamW(step.adam);
        timings_.optimizer.seconds += secondsSince(stepStart);
        ++timings_.optimizer.calls;
        break;
      }
      timings_.perStep[index].seconds += secondsSince(stepStart);
      ++timings_.perStep[index].calls;
    }

    // The top-left [b, t, ...] block of each output. Rows are independent
    // and attention is causal, so it does not depend on the padding.
    Clock::time_point outStart = Clock::now();
    auto results = collectRunOutputs(
        plan_, tokens, targets, [&](const PlanTensor &output) {
          return reinterpret_cast<const float *>(tensorAddress(output));
        });
    timings_.other.seconds += secondsSince(outStart);
    ++timings_.other.calls;
    return results;
  } catch (const std::bad_alloc &) {
    return Status::error(plan_.path + ": out of memory running the plan");
  }
}

} // namespace growc::rt

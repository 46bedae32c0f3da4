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
#include "growc/runtime/Text.h"

#include <cblas.h>

#include <algorithm>
#include <chrono>
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

bool startsWith(std::string_view s, std::string_view prefix) {
  return s.substr(0, prefix.size()) == prefix;
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
      prepared.a = reinterpret_cast<const float *>(bufferAddress(step.a));
      prepared.b = reinterpret_cast<const float *>(bufferAddress(step.b));
      prepared.c = reinterpret_cast<float *>(bufferAddress(step.c));
      // The plan bounds m, n, k by INT32_MAX.
      prepared.m = static_cast<int>(step.m);
      prepared.n = static_cast<int>(step.n);
      prepared.k = static_cast<int>(step.k);
      prepared.beta = static_cast<float>(step.beta);
      prepared.transA = step.transA != 0;
      prepared.transB = step.transB != 0;
      break;
    }
    steps_.push_back(std::move(prepared));
  }

  // A plan without parameters needs no checkpoint.
  paramsLoaded_ = plan_.params.empty();
  makeBlasSingleThreaded();
  keepKernelTemporariesOnTheHeap();
  return Status::ok();
}

//===----------------------------------------------------------------------===//
// Parameters
//===----------------------------------------------------------------------===//

Status CpuExecutor::loadParams(const SafetensorsFile &checkpoint) {
  try {
    const std::string &file = checkpoint.path();
    // Check everything first: a rejected checkpoint must not leave a mix of
    // old and new parameters behind.
    std::vector<std::pair<const PlanParam *, const TensorView *>> copies;
    size_t missing = 0;
    const PlanParam *firstMissing = nullptr;
    std::vector<const PlanParam *> zeroed;
    for (const PlanParam &param : plan_.params) {
      const TensorView *tensor = checkpoint.find(param.name);
      if (!tensor) {
        // A training step's optimizer state starts at zero when the
        // checkpoint has none yet (a fresh run).
        if (startsWith(param.name, "optimizer.")) {
          zeroed.push_back(&param);
          continue;
        }
        if (!missing++)
          firstMissing = &param;
        continue;
      }
      copies.emplace_back(&param, tensor);
    }
    if (missing)
      return Status::error(
          file + ": missing parameter " + inQuotes(firstMissing->name) +
          (missing > 1 ? " (and " + std::to_string(missing - 1) + " more)"
                       : std::string()) +
          " of model " + inQuotes(plan_.model) + " (plan " + plan_.path + ")");
    for (const PlanParam *param : zeroed)
      std::memset(bufferAddress(param->buffer), 0,
                  static_cast<size_t>(param->byteSize));
    for (auto [param, tensor] : copies) {
      if (tensor->dtype != param->dtype)
        return Status::error(file + ": parameter " + inQuotes(param->name) +
                             " is " + dtypeName(tensor->dtype) +
                             ", the plan expects " + dtypeName(param->dtype));
      if (tensor->shape != param->shape)
        return Status::error(file + ": parameter " + inQuotes(param->name) +
                             " has shape " + formatShape(tensor->shape) +
                             ", the plan expects " + formatShape(param->shape));
    }
    for (const TensorView &tensor : checkpoint.tensors()) {
      // Optimizer state (moments) and the training loop's position live
      // beside the weights in training checkpoints; they are not inputs of
      // this graph.
      if (startsWith(tensor.name, "optimizer.") ||
          startsWith(tensor.name, "growc.train."))
        continue;
      if (!plan_.findParam(tensor.name))
        return Status::error(file + ": tensor " + inQuotes(tensor.name) +
                             " is not a parameter of model " +
                             inQuotes(plan_.model) + " (plan " + plan_.path +
                             "); is this the checkpoint of a different model?");
    }

    for (const PlanParam *param : zeroed)
      std::memset(bufferAddress(param->buffer), 0,
                  static_cast<size_t>(param->byteSize));
    for (auto [param, tensor] : copies)
      std::memcpy(bufferAddress(param->buffer), tensor->data,
                  static_cast<size_t>(param->byteSize));
    paramsLoaded_ = true;
    return Status::ok();
  } catch (const std::bad_alloc &) {
    return Status::error(checkpoint.path() + ": out of memory");
  }
}

//===----------------------------------------------------------------------===//
// Running
//===----------------------------------------------------------------------===//

Status CpuExecutor::commitNextValues(
    const std::map<std::string, OutputTensor> &outputs) {
  for (const auto &[name, output] : outputs) {
    const PlanParam *param = plan_.findParam(name);
    if (!param)
      continue;
    if (output.numElements * 4 != param->byteSize)
      return Status::error(plan_.path + ": output " + inQuotes(name) +
                           " does not have its parameter's size");
    std::memmove(bufferAddress(param->buffer), output.data,
                 static_cast<size_t>(param->byteSize));
  }
  return Status::ok();
}

std::vector<TensorToWrite> CpuExecutor::paramTensors() const {
  std::vector<TensorToWrite> tensors;
  for (const PlanParam &param : plan_.params)
    tensors.push_back({param.name, param.dtype, param.shape,
                       bufferAddress(param.buffer),
                       static_cast<size_t>(param.byteSize)});
  return tensors;
}

Status CpuExecutor::checkTokens(const TensorView &tokens) const {
  if (tokens.dtype != DType::I32)
    return Status::error("tokens must be int32 (I32), got " +
                         std::string(dtypeName(tokens.dtype)));
  if (tokens.shape.size() != 2)
    return Status::error("tokens must have rank 2 [batch, seq], got shape " +
                         formatShape(tokens.shape));
  // A hand-built view may disagree with itself; one from a file never does.
  const int64_t b = tokens.shape[0], t = tokens.shape[1];
  if (b < 0 || t < 0 || tokens.numElements() < 0 ||
      tokens.byteSize != static_cast<size_t>(tokens.numElements()) * 4 ||
      (tokens.byteSize && !tokens.data))
    return Status::error("tokens: shape " + formatShape(tokens.shape) +
                         " does not match its " +
                         std::to_string(tokens.byteSize) + " bytes of data");
  if (b > plan_.batch || t > plan_.seq)
    return Status::error("tokens of shape " + formatShape(tokens.shape) +
                         " exceed the compiled shape " +
                         formatShape({plan_.batch, plan_.seq}) + " of " +
                         plan_.path);
  for (int64_t i = 0; i < b * t; ++i) {
    int32_t token; // The data carries no alignment guarantee.
    std::memcpy(&token, tokens.data + i * 4, 4);
    if (token < 0 || token >= plan_.vocabSize)
      return Status::error("tokens: token " + std::to_string(token) + " at [" +
                           std::to_string(i / t) + ", " +
                           std::to_string(i % t) +
                           "] is outside the vocabulary [0, " +
                           std::to_string(plan_.vocabSize) + ")");
  }
  return Status::ok();
}

Status CpuExecutor::checkTargets(const TensorView &tokens,
                                 const TensorView &targets) const {
  if (targets.dtype != DType::I32 || targets.shape != tokens.shape ||
      targets.byteSize != tokens.byteSize ||
      (targets.byteSize && !targets.data))
    return Status::error("targets must be int32 of the tokens' shape " +
                         formatShape(tokens.shape) + ", got " +
                         dtypeName(targets.dtype) + " " +
                         formatShape(targets.shape));
  const int64_t t = tokens.shape[1];
  for (int64_t i = 0; i < targets.numElements(); ++i) {
    int32_t target;
    std::memcpy(&target, targets.data + i * 4, 4);
    if (target != kIgnoreIndex && (target < 0 || target >= plan_.vocabSize))
      return Status::error("targets: target " + std::to_string(target) +
                           " at [" + std::to_string(i / t) + ", " +
                           std::to_string(i % t) +
                           "] is neither in the vocabulary [0, " +
                           std::to_string(plan_.vocabSize) + ") nor " +
                           std::to_string(kIgnoreIndex) + " (ignored)");
  }
  return Status::ok();
}

StatusOr<std::map<std::string, OutputTensor>>
CpuExecutor::forward(const TensorView &tokens, const TensorView *targets,
                     const std::map<std::string, float> &scalars) {
  try {
    Clock::time_point start = Clock::now();
    const std::string &path = plan_.path;

    // The graph's interface: tokens, and targets for a loss graph.
    const PlanTensor *input = plan_.findInput("tokens");
    const PlanTensor *targetInput = plan_.findInput("targets");
    const std::vector<int64_t> compiledShape = {plan_.batch, plan_.seq};
    auto isTokenTensor = [&](const PlanTensor *tensor) {
      return tensor && tensor->dtype == DType::I32 &&
             tensor->shape == compiledShape;
    };
    // Any other input is a scalar (a training step's lr and step).
    std::vector<const PlanTensor *> scalarInputs;
    bool scalarsOk = true;
    for (const PlanTensor &other : plan_.inputs)
      if (&other != input && &other != targetInput) {
        scalarInputs.push_back(&other);
        scalarsOk = scalarsOk && other.dtype == DType::F32 &&
                    other.shape == std::vector<int64_t>{1};
      }
    if (!scalarsOk || !isTokenTensor(input) ||
        (targetInput && !isTokenTensor(targetInput)))
      return Status::error(
          path +
          ": a run needs a plan whose inputs are 'tokens' and, for a loss "
          "graph, 'targets' (I32 " +
          formatShape(compiledShape) + "); this " + plan_.graph +
          " graph has " + std::to_string(plan_.inputs.size()) + " input(s)" +
          (plan_.inputs.empty()
               ? std::string()
               : ", the first " + inQuotes(plan_.inputs[0].name) + " " +
                     dtypeName(plan_.inputs[0].dtype) + " " +
                     formatShape(plan_.inputs[0].shape)));
    if (targetInput && !targets)
      return Status::error(path + ": the " + plan_.graph +
                           " graph needs targets as well as tokens");
    if (!targetInput && targets)
      return Status::error(path + ": the " + plan_.graph +
                           " graph takes no targets");
    for (const PlanTensor *scalar : scalarInputs)
      if (!scalars.count(scalar->name))
        return Status::error(path + ": the " + plan_.graph +
                             " graph needs the scalar " +
                             inQuotes(scalar->name));
    for (const auto &[name, value] : scalars)
      if (!plan_.findInput(name) || name == "tokens" || name == "targets")
        return Status::error(path + ": the " + plan_.graph +
                             " graph has no scalar input " + inQuotes(name));
    for (const PlanTensor &output : plan_.outputs)
      if (output.dtype != DType::F32)
        return Status::error(path + ": output " + inQuotes(output.name) +
                             " is " + dtypeName(output.dtype) +
                             "; forward runs return F32 outputs only");
    if (!paramsLoaded_)
      return Status::error(path +
                           ": parameters have not been loaded (loadParams)");

    if (Status status = checkTokens(tokens); !status.isOk())
      return status;
    if (targets)
      if (Status status = checkTargets(tokens, *targets); !status.isOk())
        return status;
    const int64_t b = tokens.shape[0], t = tokens.shape[1];

    // Pad into the [batch, seq] input: token 0 outside the top-left block,
    // and targets there ignored, so padding never enters a loss.
    uint8_t *in = bufferAddress(input->buffer);
    std::memset(in, 0, static_cast<size_t>(input->byteSize));
    for (int64_t i = 0; i < b; ++i)
      std::memcpy(in + i * plan_.seq * 4, tokens.data + i * t * 4,
                  static_cast<size_t>(t) * 4);
    for (const PlanTensor *scalar : scalarInputs) {
      float value = scalars.at(scalar->name);
      std::memcpy(bufferAddress(scalar->buffer), &value, sizeof value);
    }
    if (targets) {
      auto *out =
          reinterpret_cast<int32_t *>(bufferAddress(targetInput->buffer));
      std::fill_n(out, plan_.batch * plan_.seq, kIgnoreIndex);
      for (int64_t i = 0; i < b; ++i)
        std::memcpy(out + i * plan_.seq, targets->data + i * t * 4,
                    static_cast<size_t>(t) * 4);
    }
    timings_.other.seconds += secondsSince(start);

    for (PreparedStep &step : steps_) {
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
      case PlanStep::Op::Gemm:
        // C[m, n] = op(A) * op(B) (+ C when beta is 1), row-major; rows of
        // C split over the threads, unless the GEMM is too small to repay
        // waking them (below ~8 MFLOP: a few hundred microseconds).
        bool small = double(step.m) * step.n * step.k < kSmallGemmMacs;
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
        timings_.gemm.seconds += secondsSince(stepStart);
        ++timings_.gemm.calls;
        break;
      }
    }

    // The top-left [b, t, ...] block of each output. Rows are independent
    // and attention is causal, so it does not depend on the padding.
    Clock::time_point outStart = Clock::now();
    std::map<std::string, OutputTensor> results;
    for (const PlanTensor &output : plan_.outputs) {
      const float *data =
          reinterpret_cast<const float *>(bufferAddress(output.buffer));
      OutputTensor result;
      bool sliceable = output.shape.size() >= 2 &&
                       output.shape[0] == plan_.batch &&
                       output.shape[1] == plan_.seq;
      if (!sliceable) {
        // Not laid out per token: only meaningful for the full shape, or a
        // reduction over positions whose padding is ignored (the loss).
        if ((b != plan_.batch || t != plan_.seq) && !targets)
          return Status::error(path + ": output " + inQuotes(output.name) +
                               " of shape " + formatShape(output.shape) +
                               " is not [batch, seq, ...], so it " +
                               "cannot be cut down to tokens of shape " +
                               formatShape(tokens.shape));
        result.shape = output.shape;
        result.data = data;
        result.numElements = output.numElements;
      } else if (b == plan_.batch && t == plan_.seq) {
        result.shape = output.shape;
        result.data = data;
        result.numElements = output.numElements;
      } else {
        // Elements per token; the plan verified the product fits.
        int64_t inner = 1;
        for (size_t d = 2; d < output.shape.size(); ++d)
          inner *= output.shape[d];
        result.shape = output.shape;
        result.shape[0] = b;
        result.shape[1] = t;
        result.sliced.resize(static_cast<size_t>(b * t * inner));
        for (int64_t i = 0; i < b; ++i)
          std::copy_n(data + i * plan_.seq * inner, t * inner,
                      result.sliced.data() + i * t * inner);
        result.data = result.sliced.data();
        result.numElements = b * t * inner;
      }
      results.emplace(output.name, std::move(result));
    }
    timings_.other.seconds += secondsSince(outStart);
    ++timings_.other.calls;
    return results;
  } catch (const std::bad_alloc &) {
    return Status::error(plan_.path + ": out of memory running the plan");
  }
}

} // namespace growc::rt

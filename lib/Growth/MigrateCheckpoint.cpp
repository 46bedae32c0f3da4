//===- MigrateCheckpoint.cpp - move a checkpoint through growth -----------===//
//
// The input is any checkpoint rt::Checkpoint opens (a file, an index of
// shards, a model directory) and is read by the runtime's rules
// (Checkpoint.h): weights in bf16 or f16 are widened exactly to a model
// that declares f32, the RoPE buffers of Hub checkpoints are dropped, and
// a tied model's saved head must equal its embedding. Every check happens
// before the first byte is written, and the writer renames a finished
// temporary file into place, so a bad checkpoint never leaves a partial
// output behind. Tensor bytes in the declared dtype are copied from the
// mmapped input straight into the output file, except for the initialisers
// growth asks for: `zero` parameters are written as zeros and `scaled S`
// ones as S times their source (scaleWeights).
//
//===----------------------------------------------------------------------===//

#include "growc/Growth/MigrateCheckpoint.h"

#include "growc/Growth/LayerSurgery.h"
#include "growc/runtime/Checkpoint.h"
#include "growc/runtime/HfExport.h"

#include "llvm/ADT/StringExtras.h"
#include "llvm/ADT/StringMap.h"
#include "llvm/Support/FormatVariadic.h"

#include <cstring>
#include <deque>

using namespace mlir;
using namespace growc;
using namespace growc::grow;
namespace rt = growc::rt;

namespace {

constexpr llvm::StringLiteral kExpAvg = "optimizer.exp_avg.";
constexpr llvm::StringLiteral kExpAvgSq = "optimizer.exp_avg_sq.";
constexpr llvm::StringLiteral kStep = "optimizer.step";
/// The training loop's state (step, data seed and position).
constexpr llvm::StringLiteral kTrainState = "growc.train.";

llvm::Error fail(const llvm::Twine &message) {
  return llvm::createStringError(llvm::inconvertibleErrorCode(), message);
}

std::optional<rt::DType> dtypeOf(Type elementType) {
  if (elementType.isF32())
    return rt::DType::F32;
  if (elementType.isBF16())
    return rt::DType::BF16;
  if (elementType.isF16())
    return rt::DType::F16;
  return std::nullopt;
}

std::string formatShape(llvm::ArrayRef<int64_t> shape) {
  return "[" +
         llvm::join(llvm::map_range(
                        shape, [](int64_t d) { return std::to_string(d); }),
                    ", ") +
         "]";
}

/// Checks that `tensor` exists in `file` with `shape` and `dtype`, or for
/// a weight a dtype that converts exactly to it (bf16/f16 for f32). Moments
/// are copied as they are, so they must be f32 already.
llvm::Expected<const rt::TensorView *>
expectTensor(const rt::Checkpoint &file, llvm::StringRef name, rt::DType dtype,
             llvm::ArrayRef<int64_t> shape, bool widens) {
  const rt::TensorView *view = file.find(name);
  if (!view)
    return fail(llvm::formatv("checkpoint '{0}' has no tensor '{1}'",
                              file.path(), name));
  if (widens ? !rt::convertsExactly(view->dtype, dtype) : view->dtype != dtype)
    return fail(llvm::formatv(
        "checkpoint '{0}': tensor '{1}' has dtype {2}, expected {3}{4}",
        file.fileOf(*view), name, rt::dtypeName(view->dtype),
        rt::dtypeName(dtype),
        dtype == rt::DType::F32
            ? ""
            : " (growc does not round weights; convert the checkpoint, or "
              "import the model with --param-dtype f32)"));
  if (llvm::ArrayRef<int64_t>(view->shape) != shape)
    return fail(llvm::formatv("checkpoint '{0}': tensor '{1}' has shape {2}, "
                              "expected {3}",
                              file.fileOf(*view), name,
                              formatShape(view->shape), formatShape(shape)));
  return view;
}

/// S times the weights of `src`, in dtype `declared` (src's or, for f32, one
/// that widens exactly), as PyTorch's `w * S` computes it: in f32 with S
/// rounded to f32 (one rounding: exact IEEE products for f32 weights), bf16
/// and f16 products rounded to nearest even.
std::vector<uint8_t> scaleWeights(const rt::TensorView &src, rt::DType declared,
                                  double scale) {
  std::vector<float> values(src.numElements());
  if (src.dtype == rt::DType::F32)
    std::memcpy(values.data(), src.data, src.byteSize);
  else
    rt::convertTensor(src, rt::DType::F32, values.data());
  float factor = float(scale);
  for (float &value : values)
    value *= factor;
  std::vector<uint8_t> bytes(values.size() * rt::dtypeSize(declared));
  if (declared == rt::DType::F32) {
    std::memcpy(bytes.data(), values.data(), bytes.size());
    return bytes;
  }
  for (size_t i = 0; i < values.size(); ++i) {
    uint16_t half = declared == rt::DType::BF16 ? rt::floatToBf16(values[i])
                                                : rt::floatToF16(values[i]);
    std::memcpy(bytes.data() + 2 * i, &half, 2);
  }
  return bytes;
}

} // namespace

llvm::Expected<MigrationReport>
growc::migrateCheckpoint(ModelOp before, ModelOp after,
                         llvm::StringRef inputPath, llvm::StringRef outputPath,
                         const MigrationOptions &options) {
  rt::StatusOr<rt::Checkpoint> opened = rt::Checkpoint::open(inputPath.str());
  if (!opened.isOk())
    return fail(opened.status().message());
  const rt::Checkpoint &file = *opened;

  // Classify every input tensor; anything unknown means the checkpoint does
  // not belong to this model.
  llvm::StringMap<ParamOp> beforeParams;
  for (ParamOp param : before.getParams())
    beforeParams[param.getSymName()] = param;
  // A tied model saved with its head (as transformers may): checked
  // against the embedding below and not carried over.
  const rt::TensorView *tiedHead = nullptr;
  bool hasMoments = false;
  for (const rt::TensorView &tensor : file.tensors()) {
    llvm::StringRef name = tensor.name;
    llvm::StringRef paramName = name;
    if (name == kStep || name.starts_with(kTrainState) ||
        rt::isIgnoredBuffer(name))
      continue;
    if (name == rt::kLmHeadName && beforeParams.count(rt::kEmbedName) &&
        !beforeParams.count(rt::kLmHeadName)) {
      tiedHead = &tensor;
      continue;
    }
    if (paramName.consume_front(kExpAvgSq) || paramName.consume_front(kExpAvg))
      hasMoments = true;
    if (!beforeParams.count(paramName))
      return fail(llvm::formatv(
          "checkpoint '{0}': tensor '{1}' is not a parameter of model @{2}{3}",
          inputPath, name, before.getSymName(),
          paramName != name ? " (optimizer state of an unknown parameter)"
                            : ""));
  }

  // Every parameter must be there, and with moments, both moments of every
  // parameter.
  llvm::StringMap<const rt::TensorView *> weights, expAvg, expAvgSq;
  for (ParamOp param : before.getParams()) {
    llvm::StringRef name = param.getSymName();
    RankedTensorType type = param.getTensorType();
    std::optional<rt::DType> dtype = dtypeOf(type.getElementType());
    if (!dtype)
      return fail(llvm::formatv("parameter '{0}' has an element type "
                                "checkpoints cannot hold",
                                name));
    auto weight =
        expectTensor(file, name, *dtype, type.getShape(), /*widens=*/true);
    if (!weight)
      return weight.takeError();
    weights[name] = *weight;
    if (!hasMoments)
      continue;
    auto m = expectTensor(file, (kExpAvg + name).str(), rt::DType::F32,
                          type.getShape(), /*widens=*/false);
    if (!m)
      return m.takeError();
    auto v = expectTensor(file, (kExpAvgSq + name).str(), rt::DType::F32,
                          type.getShape(), /*widens=*/false);
    if (!v)
      return v.takeError();
    expAvg[name] = *m;
    expAvgSq[name] = *v;
  }

  if (tiedHead) {
    rt::DType embedType =
        *dtypeOf(beforeParams[rt::kEmbedName].getTensorType().getElementType());
    if (!rt::convertsExactly(tiedHead->dtype, embedType))
      return fail(llvm::formatv("checkpoint '{0}': tensor '{1}' has dtype "
                                "{2}, the embedding it ties to {3}",
                                file.fileOf(*tiedHead), tiedHead->name,
                                rt::dtypeName(tiedHead->dtype),
                                rt::dtypeName(embedType)));
    rt::Status same =
        rt::checkTiedHead(file, *tiedHead, *weights[rt::kEmbedName], embedType);
    if (!same.isOk())
      return fail(same.message());
  }

  // Weights in the model's declared dtype: widened once per source (a
  // source may start several copies).
  llvm::StringMap<std::vector<uint8_t>> widened;
  for (ParamOp param : before.getParams()) {
    const rt::TensorView *src = weights[param.getSymName()];
    rt::DType declared = *dtypeOf(param.getTensorType().getElementType());
    if (src->dtype == declared)
      continue;
    std::vector<uint8_t> &bytes = widened[param.getSymName()];
    bytes.resize(size_t(src->numElements()) * rt::dtypeSize(declared));
    rt::convertTensor(*src, declared, bytes.data());
  }

  // Assemble the grown checkpoint by provenance.
  MigrationReport report;
  std::vector<rt::TensorToWrite> out;
  auto sourceOf = [&](ParamOp param) {
    return param.getSource() ? *param.getSource() : param.getSymName();
  };
  // One buffer of zeros serves every zero-initialised weight and zeroed
  // moment (all-zero bytes are 0.0 in f32, bf16 and f16 alike); sized
  // first, since `out` keeps pointers into it.
  std::vector<uint8_t> zeros;
  for (ParamOp param : after.getParams()) {
    size_t elements = param.getTensorType().getNumElements();
    if (initialScale(param) == 0.0)
      zeros.resize(std::max(
          zeros.size(),
          elements *
              rt::dtypeSize(*dtypeOf(param.getTensorType().getElementType()))));
    if (hasMoments && options.zeroCopiedMoments && param.getCopy())
      zeros.resize(
          std::max(zeros.size(), elements * rt::dtypeSize(rt::DType::F32)));
  }
  // Scaled copies, one buffer each (a deque: growing it moves no buffer).
  std::deque<std::vector<uint8_t>> scaled;
  for (ParamOp param : after.getParams()) {
    llvm::StringRef source = sourceOf(param);
    auto it = weights.find(source);
    if (it == weights.end())
      return fail(llvm::formatv("parameter '{0}' of the grown model comes "
                                "from '{1}', which model @{2} does not have",
                                param.getSymName(), source,
                                before.getSymName()));
    const rt::TensorView *src = it->second;
    if (llvm::ArrayRef<int64_t>(src->shape) != param.getTensorType().getShape())
      return fail(llvm::formatv("parameter '{0}' has a different shape than "
                                "its source '{1}'",
                                param.getSymName(), source));
    rt::DType declared = *dtypeOf(param.getTensorType().getElementType());
    auto converted = widened.find(source);
    const uint8_t *data =
        converted == widened.end() ? src->data : converted->second.data();
    size_t byteSize = size_t(src->numElements()) * rt::dtypeSize(declared);
    double scale = initialScale(param);
    if (scale == 0.0) {
      data = zeros.data();
      ++report.weightsZeroed;
    } else if (scale != 1.0) {
      data = scaled.emplace_back(scaleWeights(*src, declared, scale)).data();
      ++report.weightsScaled;
    }
    out.push_back(
        {param.getSymName().str(), declared, src->shape, data, byteSize});
    ++report.weightsWritten;
  }
  if (hasMoments) {
    for (llvm::StringRef prefix : {kExpAvg, kExpAvgSq}) {
      const auto &moments = prefix == kExpAvg ? expAvg : expAvgSq;
      for (ParamOp param : after.getParams()) {
        // A zero or scaled weight's moments follow the copy flag like any
        // copy's (copied, or zeroed with --zero-new-moments).
        const rt::TensorView *src = moments.lookup(sourceOf(param));
        bool zero = options.zeroCopiedMoments && param.getCopy();
        out.push_back({(prefix + param.getSymName()).str(), rt::DType::F32,
                       src->shape, zero ? zeros.data() : src->data,
                       src->byteSize});
        ++(zero ? report.momentsZeroed : report.momentsWritten);
      }
    }
  }
  // The optimizer's step and the training loop's position (growc-run
  // train) carry over unchanged: growth continues the same run.
  for (const rt::TensorView &tensor : file.tensors())
    if (tensor.name == kStep ||
        llvm::StringRef(tensor.name).starts_with(kTrainState))
      out.push_back({tensor.name, tensor.dtype, tensor.shape, tensor.data,
                     tensor.byteSize});

  rt::Status written =
      rt::writeSafetensors(outputPath.str(), out, file.metadata());
  if (!written.isOk())
    return fail(written.message());
  return report;
}

//===- InitWeights.cpp - fresh initial weights for a model ----------------===//
//
// The generator is a splitmix64 stream per parameter, keyed by the seed and
// the parameter's name, and a Box-Muller transform written out here rather
// than std::normal_distribution, whose output differs between standard
// libraries: the same seed gives the same bytes everywhere.
//
//===----------------------------------------------------------------------===//

#include "growc/Growth/InitWeights.h"

#include "growc/runtime/Safetensors.h"

#include "llvm/ADT/APFloat.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/xxhash.h"

#include <cmath>
#include <cstring>

using namespace mlir;
using namespace growc;
namespace rt = growc::rt;

namespace {

struct SplitMix64 {
  uint64_t state;
  uint64_t next() {
    uint64_t z = (state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
  }
  /// Uniform in (0, 1].
  double uniform() { return (double(next() >> 11) + 1.0) * 0x1.0p-53; }
};

/// Appends `value` to `out` encoded as `type`.
void appendScalar(std::vector<uint8_t> &out, Type type, float value) {
  if (type.isF32()) {
    uint8_t bytes[4];
    std::memcpy(bytes, &value, 4);
    out.insert(out.end(), bytes, bytes + 4);
    return;
  }
  llvm::APFloat f(value);
  bool losesInfo;
  f.convert(type.isBF16() ? llvm::APFloat::BFloat() : llvm::APFloat::IEEEhalf(),
            llvm::APFloat::rmNearestTiesToEven, &losesInfo);
  uint16_t bits = f.bitcastToAPInt().getZExtValue();
  out.push_back(bits & 0xff);
  out.push_back(bits >> 8);
}

} // namespace

llvm::Error growc::writeInitialWeights(grow::ModelOp model,
                                       llvm::StringRef path,
                                       const InitOptions &options) {
  std::vector<std::vector<uint8_t>> buffers;
  std::vector<rt::TensorToWrite> tensors;
  for (grow::ParamOp param : model.getParams()) {
    RankedTensorType type = param.getTensorType();
    Type elementType = type.getElementType();
    rt::DType dtype = elementType.isF32()    ? rt::DType::F32
                      : elementType.isBF16() ? rt::DType::BF16
                                             : rt::DType::F16;
    int64_t count = type.getNumElements();
    std::vector<uint8_t> &bytes = buffers.emplace_back();
    bytes.reserve(count * rt::dtypeSize(dtype));
    // Norm weights are the only rank-1 parameters.
    bool isNorm = type.getRank() == 1;
    SplitMix64 rng{options.seed ^ llvm::xxh3_64bits(param.getSymName())};
    for (int64_t i = 0; i < count; i += 2) {
      double r = std::sqrt(-2.0 * std::log(rng.uniform()));
      double theta = 2.0 * M_PI * rng.uniform();
      float pair[2] = {float(options.stddev * r * std::cos(theta)),
                       float(options.stddev * r * std::sin(theta))};
      for (int64_t j = 0; j < 2 && i + j < count; ++j)
        appendScalar(bytes, elementType, isNorm ? 1.0f : pair[j]);
    }
    tensors.push_back(
        {param.getSymName().str(), dtype,
         std::vector<int64_t>(type.getShape().begin(), type.getShape().end()),
         bytes.data(), bytes.size()});
  }
  rt::Status status = rt::writeSafetensors(
      path.str(), tensors,
      {{"format", "pt"},
       {"growc.init", "normal(0, " + std::to_string(options.stddev) +
                          "), seed " + std::to_string(options.seed)}});
  if (!status.isOk())
    return llvm::createStringError(llvm::inconvertibleErrorCode(),
                                   status.message());
  return llvm::Error::success();
}

//===- GrowthPlan.cpp - which layers a growth step copies -----------------===//
//
// SPEC.md §2 as index arithmetic. With n = L / b blocks and m = ceil(n / 2):
//   MIDAS     copies old[(m-1)b, mb) and inserts it at mb;
//   LIDAS     (n even) copies old[L/2 - b/2, L/2 + b/2) and inserts it at L/2;
//             (n odd) follows the odd policy;
//   GradStack copies old[L-b, L) and appends it.
//
//===----------------------------------------------------------------------===//

#include "growc/Growth/GrowthPlan.h"

#include "llvm/ADT/StringSwitch.h"
#include "llvm/Support/FormatVariadic.h"

using namespace growc;

std::optional<GrowthMethod> growc::parseGrowthMethod(llvm::StringRef name) {
  return llvm::StringSwitch<std::optional<GrowthMethod>>(name)
      .Case("midas", GrowthMethod::Midas)
      .Case("lidas", GrowthMethod::Lidas)
      .Case("gradstack", GrowthMethod::GradStack)
      .Default(std::nullopt);
}

llvm::StringRef growc::growthMethodName(GrowthMethod method) {
  switch (method) {
  case GrowthMethod::Midas:
    return "midas";
  case GrowthMethod::Lidas:
    return "lidas";
  case GrowthMethod::GradStack:
    return "gradstack";
  }
  llvm_unreachable("unknown growth method");
}

std::optional<LidasOddPolicy> growc::parseLidasOddPolicy(llvm::StringRef name) {
  return llvm::StringSwitch<std::optional<LidasOddPolicy>>(name)
      .Case("midas", LidasOddPolicy::Midas)
      .Case("centred", LidasOddPolicy::Centred)
      .Default(std::nullopt);
}

std::string GrowthStep::describe() const {
  int64_t n = oldLayers / blockSize;
  return llvm::formatv("{0}: {1} -> {2} blocks of {3} ({4} -> {5} layers): "
                       "copy layers [{6}, {7}), insert at {8}",
                       growthMethodName(method), n, n + 1, blockSize, oldLayers,
                       layers.size(), copyBegin, copyEnd, insertAt)
      .str();
}

llvm::Expected<GrowthStep> growc::planGrowthStep(GrowthMethod method,
                                                 int64_t numLayers,
                                                 int64_t blockSize,
                                                 LidasOddPolicy oddPolicy) {
  auto error = [](const llvm::Twine &message) {
    return llvm::createStringError(llvm::inconvertibleErrorCode(), message);
  };
  if (blockSize < 1)
    return error("block size must be at least 1, got " +
                 llvm::Twine(blockSize));
  if (numLayers < 1)
    return error("cannot grow a model without layers");
  if (numLayers % blockSize != 0)
    return error("the model has " + llvm::Twine(numLayers) +
                 " layers, which is not a multiple of the block size " +
                 llvm::Twine(blockSize));
  if (method == GrowthMethod::Lidas && blockSize % 2 != 0)
    return error("LIDAS needs an even block size (it copies b/2 layers from "
                 "each side of mid-depth), got " +
                 llvm::Twine(blockSize));

  GrowthStep step{method, numLayers, blockSize, 0, 0, 0, {}};
  int64_t n = numLayers / blockSize, m = (n + 1) / 2;
  bool centred = method == GrowthMethod::Lidas &&
                 (n % 2 == 0 || oddPolicy == LidasOddPolicy::Centred);
  if (method == GrowthMethod::GradStack) {
    step.copyBegin = numLayers - blockSize;
    step.insertAt = numLayers;
  } else if (centred) {
    step.copyBegin = numLayers / 2 - blockSize / 2;
    step.insertAt = numLayers / 2;
  } else {
    step.copyBegin = (m - 1) * blockSize;
    step.insertAt = m * blockSize;
  }
  step.copyEnd = step.copyBegin + blockSize;

  step.layers.reserve(numLayers + blockSize);
  for (int64_t i = 0; i < step.insertAt; ++i)
    step.layers.push_back({i, false});
  for (int64_t i = step.copyBegin; i < step.copyEnd; ++i)
    step.layers.push_back({i, true});
  for (int64_t i = step.insertAt; i < numLayers; ++i)
    step.layers.push_back({i, false});
  return step;
}

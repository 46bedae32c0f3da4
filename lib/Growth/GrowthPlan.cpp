//===- GrowthPlan.cpp - which layers a growth step copies -----------------===//
//
// SPEC.md §2 as index arithmetic. With n = L / b blocks and m = ceil(n / 2):
//   MIDAS     copies old[(m-1)b, mb) and inserts it at mb;
//   LIDAS     (n even) copies old[L/2 - b/2, L/2 + b/2) and inserts it at L/2;
//             (n odd) follows the odd policy;
//   GradStack copies old[L-b, L) and appends it.
// The one-shot recipes for pretrained models list the new layers directly
// (docs/pretrained-growth.md); a layer's first occurrence is the original.
//
//===----------------------------------------------------------------------===//

#include "growc/Growth/GrowthPlan.h"

#include "growc/runtime/Limits.h"

#include "llvm/ADT/SmallVector.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/ADT/StringSwitch.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/MathExtras.h"

#include <charconv>
#include <cmath>
#include <numeric>

using namespace growc;

namespace {
llvm::Error error(const llvm::Twine &message) {
  return llvm::createStringError(llvm::inconvertibleErrorCode(), message);
}
} // namespace

std::optional<GrowthMethod> growc::parseGrowthMethod(llvm::StringRef name) {
  return llvm::StringSwitch<std::optional<GrowthMethod>>(name)
      .Case("midas", GrowthMethod::Midas)
      .Case("lidas", GrowthMethod::Lidas)
      .Case("gradstack", GrowthMethod::GradStack)
      .Case("block-expansion", GrowthMethod::BlockExpansion)
      .Case("depth-upscale", GrowthMethod::DepthUpscale)
      .Case("layers", GrowthMethod::Layers)
      .Case("gstack", GrowthMethod::GStack)
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
  case GrowthMethod::BlockExpansion:
    return "block-expansion";
  case GrowthMethod::DepthUpscale:
    return "depth-upscale";
  case GrowthMethod::Layers:
    return "layers";
  case GrowthMethod::GStack:
    return "gstack";
  }
  llvm_unreachable("unknown growth method");
}

bool growc::isLayerRecipe(GrowthMethod method) {
  return method != GrowthMethod::Midas && method != GrowthMethod::Lidas &&
         method != GrowthMethod::GradStack;
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
  if (isLayerRecipe(method))
    return error(growthMethodName(method) +
                 " is a one-shot recipe, not a growth step (planLayerRecipe)");
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

//===----------------------------------------------------------------------===//
// One-shot recipes for pretrained models
//===----------------------------------------------------------------------===//

namespace {
llvm::Error checkLayers(int64_t numLayers) {
  if (numLayers < 1)
    return error("cannot grow a model without layers");
  return llvm::Error::success();
}

/// Fails when a plan would exceed growc's layer limit; `grown` is nullopt
/// when the count overflowed int64.
llvm::Error checkLimit(std::optional<int64_t> grown) {
  if (grown && *grown <= rt::limits::kMaxLayers)
    return llvm::Error::success();
  return error("the grown model would have " +
               (grown ? std::to_string(*grown) : "more than 2^63") +
               " layers; growc builds at most " +
               llvm::Twine(rt::limits::kMaxLayers) + " (docs/usage.md#limits)");
}

/// Appends old[begin, end) to `layers`; a layer already present is a copy.
void appendRange(std::vector<LayerSource> &layers, std::vector<bool> &seen,
                 int64_t begin, int64_t end) {
  for (int64_t i = begin; i < end; ++i) {
    layers.push_back({i, bool(seen[i])});
    seen[i] = true;
  }
}

/// "0.5", "-2", "1e-08": the shortest text that reads back the same value.
std::string formatScale(double scale) {
  char text[32];
  return std::string(text, std::to_chars(text, text + sizeof(text), scale).ptr);
}

/// "[0, 3) + [5, 8)": the runs of consecutive values in `indices`.
std::string formatRuns(llvm::ArrayRef<int64_t> indices, llvm::StringRef sep) {
  std::string out;
  for (size_t i = 0; i < indices.size();) {
    size_t j = i + 1;
    while (j < indices.size() && indices[j] == indices[j - 1] + 1)
      ++j;
    if (!out.empty())
      out += sep;
    out += llvm::formatv("[{0}, {1})", indices[i], indices[j - 1] + 1).str();
    i = j;
  }
  return out;
}
} // namespace

llvm::Expected<std::vector<LayerRange>>
growc::parseLayerRanges(llvm::StringRef text) {
  if (text.trim().empty())
    return error("layer-ranges is empty; expected BEGIN:END[,BEGIN:END...]");
  llvm::SmallVector<llvm::StringRef> tokens;
  text.split(tokens, ',');
  std::vector<LayerRange> ranges;
  for (llvm::StringRef token : tokens) {
    llvm::StringRef trimmed = token.trim();
    if (trimmed.empty())
      return error("layer-ranges '" + text + "' has an empty entry");
    auto [first, second] = trimmed.split(':');
    uint64_t begin, end;
    // getAsInteger takes the whole text, so "1:2:3" and "a:2" fail here.
    if (!trimmed.contains(':') || first.trim().getAsInteger(10, begin) ||
        second.trim().getAsInteger(10, end) ||
        begin > uint64_t(rt::limits::kMaxLayers) ||
        end > uint64_t(rt::limits::kMaxLayers))
      return error("layer range '" + token +
                   "' is not BEGIN:END (two layer indices, half-open)");
    if (begin == end)
      return error("layer range '" + token + "' is empty");
    if (begin > end)
      return error("layer range '" + token + "' is reversed (BEGIN > END)");
    ranges.push_back({int64_t(begin), int64_t(end)});
  }
  return ranges;
}

llvm::Expected<std::vector<LayerSource>>
growc::planBlockExpansion(int64_t numLayers, int64_t every,
                          double outputScale) {
  if (llvm::Error err = checkLayers(numLayers))
    return std::move(err);
  if (every < 1)
    return error("expand-every must be at least 1, got " + llvm::Twine(every));
  if (numLayers % every != 0)
    return error("expand-every=" + llvm::Twine(every) +
                 " does not divide the model's " + llvm::Twine(numLayers) +
                 " layers");
  if (!std::isfinite(outputScale))
    return error("expand-output-scale must be finite, got " +
                 formatScale(outputScale));
  if (llvm::Error err = checkLimit(numLayers + numLayers / every))
    return std::move(err);
  std::vector<LayerSource> layers;
  for (int64_t i = 0; i < numLayers; ++i) {
    layers.push_back({i, false});
    if ((i + 1) % every == 0)
      layers.push_back({i, true, outputScale});
  }
  return layers;
}

llvm::Expected<std::vector<LayerSource>>
growc::planDepthUpscale(int64_t numLayers, int64_t drop) {
  if (llvm::Error err = checkLayers(numLayers))
    return std::move(err);
  if (drop < 1 || drop >= numLayers)
    return error("upscale-drop=" + llvm::Twine(drop) + " must be in [1, " +
                 llvm::Twine(numLayers) + ") for a model of " +
                 llvm::Twine(numLayers) +
                 " layers (dropping none is gstack with stack-factor=2)");
  return planLayerRanges(numLayers, {{0, numLayers - drop}, {drop, numLayers}});
}

llvm::Expected<std::vector<LayerSource>>
growc::planLayerRanges(int64_t numLayers, llvm::ArrayRef<LayerRange> ranges) {
  if (llvm::Error err = checkLayers(numLayers))
    return std::move(err);
  if (ranges.empty())
    return error("layer-ranges names no range");
  int64_t total = 0;
  for (const LayerRange &range : ranges) {
    if (range.begin < 0 || range.begin >= range.end)
      return error(llvm::formatv("layer range {0}:{1} is empty or reversed",
                                 range.begin, range.end)
                       .str());
    if (range.end > numLayers)
      return error(llvm::formatv("layer range {0}:{1} ends past the model's "
                                 "{2} layers",
                                 range.begin, range.end, numLayers)
                       .str());
    // Each range has at most 2^16 layers, so checking per range keeps the
    // sum far from overflow.
    total += range.end - range.begin;
    if (llvm::Error err = checkLimit(total))
      return std::move(err);
  }
  std::vector<LayerSource> layers;
  std::vector<bool> seen(numLayers, false);
  for (const LayerRange &range : ranges)
    appendRange(layers, seen, range.begin, range.end);
  return layers;
}

llvm::Expected<std::vector<LayerSource>> growc::planStack(int64_t numLayers,
                                                          int64_t factor) {
  if (llvm::Error err = checkLayers(numLayers))
    return std::move(err);
  if (factor < 2)
    return error("stack-factor must be at least 2, got " + llvm::Twine(factor));
  int64_t grown;
  if (llvm::Error err = checkLimit(llvm::MulOverflow(numLayers, factor, grown)
                                       ? std::nullopt
                                       : std::optional(grown)))
    return std::move(err);
  std::vector<LayerSource> layers;
  std::vector<bool> seen(numLayers, false);
  for (int64_t g = 0; g < factor; ++g)
    appendRange(layers, seen, 0, numLayers);
  return layers;
}

int64_t growc::recipeBlockSize(const LayerRecipe &recipe,
                               int64_t modelBlockSize, int64_t newLayers) {
  if (recipe.method == GrowthMethod::BlockExpansion)
    return recipe.expandEvery + 1;
  return std::gcd(std::max<int64_t>(modelBlockSize, 1), newLayers);
}

namespace {
llvm::Expected<std::vector<LayerSource>>
planRecipeLayers(const LayerRecipe &recipe, int64_t numLayers) {
  switch (recipe.method) {
  case GrowthMethod::BlockExpansion:
    return planBlockExpansion(numLayers, recipe.expandEvery,
                              recipe.expandOutputScale);
  case GrowthMethod::DepthUpscale:
    return planDepthUpscale(numLayers, recipe.upscaleDrop);
  case GrowthMethod::Layers: {
    llvm::Expected<std::vector<LayerRange>> ranges =
        parseLayerRanges(recipe.layerRanges);
    if (!ranges)
      return ranges.takeError();
    return planLayerRanges(numLayers, *ranges);
  }
  case GrowthMethod::GStack:
    return planStack(numLayers, recipe.stackFactor);
  default:
    return error(growthMethodName(recipe.method) +
                 " is a growth step, not a one-shot recipe (planGrowthStep)");
  }
}
} // namespace

llvm::Expected<LayerPlan> growc::planLayerRecipe(const LayerRecipe &recipe,
                                                 int64_t numLayers,
                                                 int64_t modelBlockSize) {
  llvm::Expected<std::vector<LayerSource>> layers =
      planRecipeLayers(recipe, numLayers);
  if (!layers)
    return layers.takeError();
  int64_t newLayers = layers->size();
  if (recipe.blockSize < 0)
    return error("block size must be non-negative (0: automatic), got " +
                 llvm::Twine(recipe.blockSize));
  if (recipe.blockSize > 0 && newLayers % recipe.blockSize != 0)
    return error("block-size=" + llvm::Twine(recipe.blockSize) +
                 " does not divide the grown model's " +
                 llvm::Twine(newLayers) + " layers");
  int64_t blockSize = recipe.blockSize
                          ? recipe.blockSize
                          : recipeBlockSize(recipe, modelBlockSize, newLayers);
  return LayerPlan{recipe, numLayers, blockSize, std::move(*layers)};
}

std::string LayerPlan::describe() const {
  std::string out =
      llvm::formatv("{0}: {1} -> {2} layers, ", growthMethodName(recipe.method),
                    oldLayers, layers.size())
          .str();
  switch (recipe.method) {
  case GrowthMethod::BlockExpansion: {
    double scale = recipe.expandOutputScale;
    out += scale == 0.0   ? "a zero-output copy"
           : scale == 1.0 ? "a plain copy"
                          : "a copy with output projections scaled by " +
                                formatScale(scale);
    out +=
        " after every " + std::to_string(recipe.expandEvery) + " (inserted at ";
    // Long lists are cut: a 2^16-layer model would print pages.
    int64_t inserted = 0, shown = 16;
    for (auto [position, src] : llvm::enumerate(layers)) {
      if (!src.isCopy)
        continue;
      if (inserted < shown)
        out += (inserted ? ", " : "") + std::to_string(position);
      ++inserted;
    }
    if (inserted > shown)
      out += ", ... " + std::to_string(inserted) + " in all";
    out += ")";
    break;
  }
  case GrowthMethod::DepthUpscale:
    out += llvm::formatv("[0, {0}) then [{1}, {2})",
                         oldLayers - recipe.upscaleDrop, recipe.upscaleDrop,
                         oldLayers)
               .str();
    break;
  case GrowthMethod::GStack:
    out += llvm::formatv("[0, {0}) stacked {1} times", oldLayers,
                         recipe.stackFactor)
               .str();
    break;
  default: {
    // layers: the ranges as runs of consecutive sources (adjacent ranges
    // such as 0:2,2:4 read as one), then the layers no range named.
    std::vector<int64_t> sources;
    std::vector<bool> used(oldLayers, false);
    for (const LayerSource &src : layers) {
      sources.push_back(src.oldIndex);
      used[src.oldIndex] = true;
    }
    out += formatRuns(sources, " + ");
    std::vector<int64_t> dropped;
    for (int64_t i = 0; i < oldLayers; ++i)
      if (!used[i])
        dropped.push_back(i);
    if (!dropped.empty())
      out += ", dropping " + formatRuns(dropped, " + ");
    break;
  }
  }
  out += "; blocks of " + std::to_string(blockSize);
  return out;
}

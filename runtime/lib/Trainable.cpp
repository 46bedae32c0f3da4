//===- Trainable.cpp - the --trainable=SPEC grammar -----------------------===//
//
// One resolver for growc's growc-freeze-parameters and growc-run train's
// check of a plan's frozen set (Trainable.h), so that a SPEC means the same
// to both.
//
//===----------------------------------------------------------------------===//

#include "growc/runtime/Trainable.h"

#include "growc/runtime/Text.h"

#include <map>
#include <optional>
#include <set>

using namespace growc::rt;

namespace {

constexpr const char *kEmbed = "model.embed_tokens.weight";
constexpr const char *kNorm = "model.norm.weight";
constexpr const char *kHead = "lm_head.weight";

/// The layer index of "model.layers.<i>.<suffix>".
std::optional<int64_t> layerOf(const std::string &name) {
  static const std::string prefix = "model.layers.";
  if (name.compare(0, prefix.size(), prefix) != 0)
    return std::nullopt;
  size_t dot = name.find('.', prefix.size());
  if (dot == std::string::npos || dot == prefix.size() ||
      dot - prefix.size() > 9)
    return std::nullopt;
  int64_t index = 0;
  for (size_t i = prefix.size(); i < dot; ++i) {
    if (name[i] < '0' || name[i] > '9')
      return std::nullopt;
    index = index * 10 + (name[i] - '0');
  }
  return index;
}

/// A non-negative decimal layer index (at most 9 digits).
std::optional<int64_t> parseIndex(const std::string &text) {
  if (text.empty() || text.size() > 9)
    return std::nullopt;
  int64_t value = 0;
  for (char c : text) {
    if (c < '0' || c > '9')
      return std::nullopt;
    value = value * 10 + (c - '0');
  }
  return value;
}

/// "0-3,6" for {0, 1, 2, 3, 6}.
std::string formatRanges(const std::set<int64_t> &indices) {
  std::string out;
  for (auto it = indices.begin(); it != indices.end();) {
    int64_t first = *it, last = first;
    for (++it; it != indices.end() && *it == last + 1; ++it)
      last = *it;
    if (!out.empty())
      out += ",";
    out += std::to_string(first);
    if (last > first)
      out += "-" + std::to_string(last);
  }
  return out;
}

} // namespace

StatusOr<std::vector<bool>>
growc::rt::resolveTrainable(const std::string &spec,
                            const std::vector<TrainableParam> &params) {
  std::vector<bool> selected(params.size(), false);
  bool hasHead = false, hasEmbed = false;
  std::set<int64_t> layers;
  for (const TrainableParam &param : params) {
    hasHead |= param.name == kHead;
    hasEmbed |= param.name == kEmbed;
    if (std::optional<int64_t> layer = layerOf(param.name))
      layers.insert(*layer);
  }
  const std::string layerCount =
      std::to_string(layers.size()) + " layers" +
      (layers.empty() ? std::string() : " (" + formatRanges(layers) + ")");

  if (spec == "all") {
    selected.assign(params.size(), true);
  } else if (spec == "inserted") {
    for (size_t i = 0; i < params.size(); ++i)
      selected[i] = params[i].copy;
  } else {
    // A comma list of layers, ranges and the non-layer parameters.
    std::set<int64_t> chosenLayers;
    std::set<std::string> chosenNames;
    size_t begin = 0;
    while (true) {
      size_t comma = spec.find(',', begin);
      std::string token =
          spec.substr(begin, comma == std::string::npos ? std::string::npos
                                                        : comma - begin);
      const std::string bad = "--trainable=" + spec + ": " + inQuotes(token);
      if (token == "embed") {
        chosenNames.insert(kEmbed);
      } else if (token == "norm") {
        chosenNames.insert(kNorm);
      } else if (token == "lm_head") {
        if (!hasHead)
          return Status::error(
              bad + ": the model ties its head to the embedding (" +
              std::string(kEmbed) +
              "), so the head trains with it: " + "select 'embed'");
        chosenNames.insert(kHead);
      } else if (size_t colon = token.find(':'); colon != std::string::npos) {
        std::optional<int64_t> from = parseIndex(token.substr(0, colon)),
                               to = parseIndex(token.substr(colon + 1));
        if (!from || !to || *from >= *to)
          return Status::error(bad + " is not a layer range A:B with A < B "
                                     "(half-open: layers A..B-1)");
        for (int64_t layer = *from; layer < *to; ++layer) {
          if (!layers.count(layer))
            return Status::error(bad + ": layer " + std::to_string(layer) +
                                 " is not in the model, which has " +
                                 layerCount);
          chosenLayers.insert(layer);
        }
      } else if (std::optional<int64_t> layer = parseIndex(token)) {
        if (!layers.count(*layer))
          return Status::error(bad + ": layer " + std::to_string(*layer) +
                               " is not in the model, which has " + layerCount);
        chosenLayers.insert(*layer);
      } else {
        return Status::error(
            bad + " is not a layer N, a range A:B, 'embed', 'norm' or "
                  "'lm_head' (SPEC: all, inserted, or a comma list of "
                  "those, e.g. 3,7,10:12,embed)");
      }
      if (comma == std::string::npos)
        break;
      begin = comma + 1;
    }
    for (size_t i = 0; i < params.size(); ++i) {
      std::optional<int64_t> layer = layerOf(params[i].name);
      selected[i] = layer ? chosenLayers.count(*layer) > 0
                          : chosenNames.count(params[i].name) > 0;
    }
  }
  for (bool s : selected)
    if (s)
      return selected;
  if (spec == "inserted")
    return Status::error(
        "--trainable=inserted selects nothing: no parameter has growth "
        "provenance (copy), so nothing was inserted; it needs the grown "
        "model as growth left it (growc --grow=METHOD in the same command, "
        "or the IR of growc --grow=METHOD --emit=mlir)");
  return Status::error("--trainable=" + spec +
                       " selects no parameter of the model (" + layerCount +
                       (hasEmbed ? ", embed" : "") + ")");
}

std::string
growc::rt::describeParamSet(const std::vector<TrainableParam> &params,
                            const std::vector<bool> &selected) {
  // Per layer: how many parameters it has and how many are selected.
  std::map<int64_t, std::pair<int64_t, int64_t>> perLayer;
  for (size_t i = 0; i < params.size(); ++i)
    if (std::optional<int64_t> layer = layerOf(params[i].name)) {
      ++perLayer[*layer].first;
      perLayer[*layer].second += selected[i];
    }
  std::set<int64_t> whole;
  for (const auto &[layer, counts] : perLayer)
    if (counts.second == counts.first)
      whole.insert(layer);
  std::vector<std::string> parts;
  if (!whole.empty())
    parts.push_back((whole.size() == 1 ? "layer " : "layers ") +
                    formatRanges(whole));
  for (size_t i = 0; i < params.size(); ++i) {
    if (!selected[i])
      continue;
    const std::string &name = params[i].name;
    if (std::optional<int64_t> layer = layerOf(name)) {
      if (!whole.count(*layer))
        parts.push_back(name);
      continue;
    }
    parts.push_back(name == kEmbed  ? "embed"
                    : name == kNorm ? "norm"
                    : name == kHead ? "lm_head"
                                    : name);
  }
  if (parts.empty())
    return "none";
  std::string out;
  for (const std::string &part : parts)
    out += (out.empty() ? "" : "; ") + part;
  return out;
}

//===----------------------------------------------------------------------===//
// A train plan's frozen set
//===----------------------------------------------------------------------===//

namespace {

/// The model parameters of a plan (its optimizer state left out) and which
/// of them train.
struct PlanParams {
  std::vector<TrainableParam> params;
  std::vector<bool> trained;
  int64_t values = 0, trainedValues = 0;
};

PlanParams modelParamsOf(const Plan &plan) {
  PlanParams out;
  for (const PlanParam &param : plan.params) {
    if (param.name.rfind("optimizer.", 0) == 0)
      continue;
    out.params.push_back({param.name, param.copy});
    out.trained.push_back(!param.frozen);
    out.values += param.numElements;
    if (!param.frozen)
      out.trainedValues += param.numElements;
  }
  return out;
}

std::vector<bool> negated(std::vector<bool> flags) {
  flags.flip();
  return flags;
}

} // namespace

bool growc::rt::hasFrozenParams(const Plan &plan) {
  for (const PlanParam &param : plan.params)
    if (param.frozen)
      return true;
  return false;
}

std::string growc::rt::describeTraining(const Plan &plan) {
  PlanParams p = modelParamsOf(plan);
  int64_t trained = 0;
  for (bool t : p.trained)
    trained += t;
  return "training " + std::to_string(trained) + " of " +
         std::to_string(p.params.size()) + " parameters (" +
         std::to_string(p.trainedValues) + " of " + std::to_string(p.values) +
         " values); frozen: " + describeParamSet(p.params, negated(p.trained));
}

Status growc::rt::checkTrainable(const Plan &plan, const std::string &spec) {
  PlanParams p = modelParamsOf(plan);
  const std::string compiled = "it was compiled to train " +
                               describeParamSet(p.params, p.trained) +
                               (hasFrozenParams(plan) ? "" : " (everything)");
  bool anyCopy = false;
  for (const TrainableParam &param : p.params)
    anyCopy |= param.copy;
  // A plan compiled from a grown model.mlir has its provenance reset
  // (growc compiles the file as a model of its own): `inserted` cannot be
  // resolved here, only the set the plan was compiled with.
  if (spec == "inserted" && !anyCopy)
    return Status::error(plan.path +
                         ": --trainable=inserted cannot be checked: the plan "
                         "records no growth provenance (growc keeps it only "
                         "when it grows the model in the same command); " +
                         compiled +
                         ". Drop --trainable to train what the plan trains");
  StatusOr<std::vector<bool>> selected = resolveTrainable(spec, p.params);
  if (!selected.isOk())
    return Status::error(plan.path + ": " + selected.status().message());
  if (*selected == p.trained)
    return Status::ok();
  return Status::error(
      plan.path + ": --trainable=" + spec + " trains " +
      describeParamSet(p.params, *selected) + ", but " + compiled +
      ". The frozen set is part of the compiled train graph; recompile it: "
      "growc MODEL.mlir --graph=train --trainable=" +
      spec + " -o " + plan.kernelsFile);
}

std::string growc::rt::frozenStateNote(const Plan &plan,
                                       const Checkpoint &checkpoint) {
  int64_t count = 0;
  for (const PlanParam &param : plan.params) {
    if (!param.frozen)
      continue;
    for (const char *kind : {"exp_avg.", "exp_avg_sq.", "grad_sum."})
      if (checkpoint.find("optimizer." + std::string(kind) + param.name)) {
        ++count;
        break;
      }
  }
  if (!count)
    return "";
  return checkpoint.path() + " holds optimizer state of " +
         std::to_string(count) +
         " parameters this plan freezes: it is not used, and the "
         "checkpoints of this run do not keep it (unfrozen later, they "
         "start with zero moments)";
}

//===- GrowDialect.cpp - grow dialect and config attribute ----------------===//
//
// Registers the dialect and implements #grow.config: its keyword syntax and
// the rules any Llama-style configuration must satisfy on its own.
//
//===----------------------------------------------------------------------===//

#include "dialects/Grow/GrowOps.h"

#include "growc/runtime/Limits.h"

#include "mlir/IR/DialectImplementation.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/ADT/StringSwitch.h"
#include "llvm/ADT/TypeSwitch.h"
#include "llvm/Support/MathExtras.h"

#include <cmath>
#include <limits>

using namespace mlir;
using namespace growc::grow;

#include "dialects/Grow/GrowDialect.cpp.inc"

#define GET_ATTRDEF_CLASSES
#include "dialects/Grow/GrowAttrs.cpp.inc"

#include "dialects/Grow/GrowInterfaces.cpp.inc"

void GrowDialect::initialize() {
  addAttributes<
#define GET_ATTRDEF_LIST
#include "dialects/Grow/GrowAttrs.cpp.inc"
      >();
  addOperations<
#define GET_OP_LIST
#include "dialects/Grow/GrowOps.cpp.inc"
      >();
}

//===----------------------------------------------------------------------===//
// ConfigAttr
//===----------------------------------------------------------------------===//

namespace {
/// The config's keywords in printing order; all but rope_scaling required.
constexpr std::array<const char *, 12> kConfigKeys = {
    "vocab",      "hidden",       "ffn",     "heads",
    "kv_heads",   "head_dim",     "context", "eps",
    "rope_theta", "rope_scaling", "tied",    "block_size"};
constexpr size_t kRopeScalingSlot = 9;
} // namespace

Attribute ConfigAttr::parse(AsmParser &parser, Type) {
  int64_t ints[8] = {};
  double eps = 0, theta = 0;
  bool tied = false;
  RopeScalingAttr scaling;
  std::array<bool, kConfigKeys.size()> seen = {};
  auto parseField = [&]() -> ParseResult {
    SMLoc loc = parser.getCurrentLocation();
    std::string key;
    if (parser.parseKeywordOrString(&key) || parser.parseEqual())
      return failure();
    auto it = llvm::find(kConfigKeys, key);
    if (it == kConfigKeys.end())
      return parser.emitError(loc, "unknown #grow.config field '")
             << key << "'";
    size_t slot = it - kConfigKeys.begin();
    if (seen[slot])
      return parser.emitError(loc, "duplicate #grow.config field '")
             << key << "'";
    seen[slot] = true;
    if (key == "eps")
      return parser.parseFloat(eps);
    if (key == "rope_theta")
      return parser.parseFloat(theta);
    if (key == "rope_scaling") {
      SMLoc valueLoc = parser.getCurrentLocation();
      Attribute attr;
      if (parser.parseAttribute(attr))
        return failure();
      scaling = dyn_cast<RopeScalingAttr>(attr);
      if (!scaling)
        return parser.emitError(valueLoc, "expected a #grow.rope_scaling");
      return success();
    }
    if (key == "tied") {
      StringRef value;
      SMLoc valueLoc = parser.getCurrentLocation();
      if (parser.parseKeyword(&value))
        return failure();
      if (value != "true" && value != "false")
        return parser.emitError(valueLoc, "expected true or false");
      tied = value == "true";
      return success();
    }
    // Integer fields: slots 0..6 map to ints[0..6], block_size to ints[7].
    return parser.parseInteger(ints[slot == kConfigKeys.size() - 1 ? 7 : slot]);
  };
  if (parser.parseLess() ||
      parser.parseCommaSeparatedList(AsmParser::Delimiter::None, parseField) ||
      parser.parseGreater())
    return {};
  for (size_t i = 0; i < kConfigKeys.size(); ++i)
    if (!seen[i] && i != kRopeScalingSlot) {
      parser.emitError(parser.getNameLoc(), "#grow.config is missing field '")
          << kConfigKeys[i] << "'";
      return {};
    }
  return parser.getChecked<ConfigAttr>(
      parser.getContext(), ints[0], ints[1], ints[2], ints[3], ints[4], ints[5],
      ints[6], llvm::APFloat(eps), llvm::APFloat(theta), scaling, tied,
      ints[7]);
}

void ConfigAttr::print(AsmPrinter &printer) const {
  printer << "<vocab = " << getVocab() << ", hidden = " << getHidden()
          << ", ffn = " << getFfn() << ", heads = " << getHeads()
          << ", kv_heads = " << getKvHeads() << ", head_dim = " << getHeadDim()
          << ", context = " << getContextLength() << ", eps = ";
  printer.printFloat(getEps());
  printer << ", rope_theta = ";
  printer.printFloat(getRopeTheta());
  // Plain RoPE prints nothing, so configs without scaling keep the text
  // they had before scaling existed.
  if (RopeScalingAttr scaling = getRopeScaling())
    printer << ", rope_scaling = " << Attribute(scaling);
  printer << ", tied = " << (getTied() ? "true" : "false")
          << ", block_size = " << getBlockSize() << ">";
}

LogicalResult
ConfigAttr::verify(function_ref<InFlightDiagnostic()> emitError, int64_t vocab,
                   int64_t hidden, int64_t ffn, int64_t heads, int64_t kvHeads,
                   int64_t headDim, int64_t contextLength,
                   llvm::APFloat epsValue, llvm::APFloat ropeThetaValue,
                   RopeScalingAttr ropeScaling, bool tied, int64_t blockSize) {
  double eps = epsValue.convertToDouble();
  double ropeTheta = ropeThetaValue.convertToDouble();
  std::pair<const char *, int64_t> positives[] = {{"vocab", vocab},
                                                  {"hidden", hidden},
                                                  {"ffn", ffn},
                                                  {"heads", heads},
                                                  {"kv_heads", kvHeads},
                                                  {"head_dim", headDim},
                                                  {"context", contextLength},
                                                  {"block_size", blockSize}};
  for (auto [name, value] : positives)
    if (value < 1)
      return emitError() << "#grow.config: " << name
                         << " must be positive, got " << value;
  // Sizes the runtime cannot run (docs/usage.md#limits): token ids are
  // int32, and hidden, ffn and the attention width are GEMM dimensions.
  namespace limits = growc::rt::limits;
  if (vocab > limits::kMaxVocab)
    return emitError() << "#grow.config: vocab (" << vocab
                       << ") exceeds 2^31 - 1, the most that 32-bit token ids "
                          "can index (docs/usage.md#limits)";
  int64_t qWidth; // heads x head_dim, saturated: the check only compares it
  if (llvm::MulOverflow(heads, headDim, qWidth))
    qWidth = std::numeric_limits<int64_t>::max();
  std::pair<const char *, int64_t> gemmDims[] = {
      {"hidden", hidden}, {"ffn", ffn}, {"heads x head_dim", qWidth}};
  for (auto [name, value] : gemmDims)
    if (value > limits::kMaxGemmDim)
      return emitError() << "#grow.config: " << name << " (" << value
                         << ") exceeds 2^31 - 1, the largest GEMM dimension "
                            "the runtime accepts (docs/usage.md#limits)";
  if (hidden % heads != 0)
    return emitError() << "#grow.config: hidden (" << hidden
                       << ") must be divisible by heads (" << heads << ")";
  if (heads % kvHeads != 0)
    return emitError() << "#grow.config: heads (" << heads
                       << ") must be divisible by kv_heads (" << kvHeads << ")";
  if (headDim % 2 != 0)
    return emitError() << "#grow.config: head_dim (" << headDim
                       << ") must be even for rotary embeddings";
  if (!(eps > 0) || !std::isfinite(eps))
    return emitError() << "#grow.config: eps must be positive and finite";
  if (!(ropeTheta > 0) || !std::isfinite(ropeTheta))
    return emitError() << "#grow.config: rope_theta must be positive and "
                          "finite";
  return success();
}

ConfigAttr ConfigAttr::withBlockSize(int64_t blockSize) const {
  return ConfigAttr::get(getContext(), getVocab(), getHidden(), getFfn(),
                         getHeads(), getKvHeads(), getHeadDim(),
                         getContextLength(), getEps(), getRopeTheta(),
                         getRopeScaling(), getTied(), blockSize);
}

//===----------------------------------------------------------------------===//
// RopeScalingAttr
//===----------------------------------------------------------------------===//

namespace {
/// The keywords after the kind, per kind, in printing order.
constexpr std::array<const char *, 1> kLinearKeys = {"factor"};
constexpr std::array<const char *, 4> kLlama3Keys = {
    "factor", "low_freq_factor", "high_freq_factor", "original_context"};
} // namespace

Attribute RopeScalingAttr::parse(AsmParser &parser, Type) {
  SMLoc kindLoc = parser.getCurrentLocation();
  StringRef kind;
  if (parser.parseLess() || parser.parseKeyword(&kind))
    return {};
  ArrayRef<const char *> keys;
  if (kind == "linear") {
    keys = kLinearKeys;
  } else if (kind == "llama3") {
    keys = kLlama3Keys;
  } else {
    parser.emitError(kindLoc, "unknown #grow.rope_scaling kind '")
        << kind << "' (expected linear or llama3)";
    return {};
  }
  // factor, low_freq_factor, high_freq_factor; original_context apart.
  double floats[3] = {};
  int64_t originalContext = 0;
  SmallVector<bool, 4> seen(keys.size(), false);
  while (succeeded(parser.parseOptionalComma())) {
    SMLoc loc = parser.getCurrentLocation();
    std::string key;
    if (parser.parseKeywordOrString(&key) || parser.parseEqual())
      return {};
    auto it = llvm::find(keys, key);
    if (it == keys.end()) {
      parser.emitError(loc, "unknown #grow.rope_scaling<")
          << kind << "> field '" << key << "'";
      return {};
    }
    size_t slot = it - keys.begin();
    if (seen[slot]) {
      parser.emitError(loc, "duplicate #grow.rope_scaling field '")
          << key << "'";
      return {};
    }
    seen[slot] = true;
    if (key == "original_context" ? parser.parseInteger(originalContext)
                                  : parser.parseFloat(floats[slot]))
      return {};
  }
  if (parser.parseGreater())
    return {};
  for (size_t i = 0; i < keys.size(); ++i)
    if (!seen[i]) {
      parser.emitError(parser.getNameLoc(), "#grow.rope_scaling<")
          << kind << "> is missing field '" << keys[i] << "'";
      return {};
    }
  return parser.getChecked<RopeScalingAttr>(
      parser.getContext(), kind, llvm::APFloat(floats[0]),
      llvm::APFloat(floats[1]), llvm::APFloat(floats[2]), originalContext);
}

void RopeScalingAttr::print(AsmPrinter &printer) const {
  printer << "<" << getKind() << ", factor = ";
  printer.printFloat(getFactor());
  if (isLlama3()) {
    printer << ", low_freq_factor = ";
    printer.printFloat(getLowFreqFactor());
    printer << ", high_freq_factor = ";
    printer.printFloat(getHighFreqFactor());
    printer << ", original_context = " << getOriginalContext();
  }
  printer << ">";
}

LogicalResult
RopeScalingAttr::verify(function_ref<InFlightDiagnostic()> emitError,
                        StringRef kind, llvm::APFloat factorValue,
                        llvm::APFloat lowValue, llvm::APFloat highValue,
                        int64_t originalContext) {
  double factor = factorValue.convertToDouble();
  double low = lowValue.convertToDouble();
  double high = highValue.convertToDouble();
  if (kind != "linear" && kind != "llama3")
    return emitError() << "#grow.rope_scaling: unknown kind '" << kind
                       << "' (expected linear or llama3)";
  if (!(factor > 0) || !std::isfinite(factor))
    return emitError() << "#grow.rope_scaling: factor must be positive and "
                          "finite";
  if (kind == "linear") {
    // One spelling per scaling: the llama3 fields stay 0, so equal
    // scalings are equal attributes.
    if (low != 0 || high != 0 || originalContext != 0)
      return emitError() << "#grow.rope_scaling: linear scaling has only a "
                            "factor";
    return success();
  }
  // llama3 blends by (original / wavelength - low) / (high - low).
  if (!(low > 0) || !std::isfinite(low) || !std::isfinite(high))
    return emitError() << "#grow.rope_scaling: low_freq_factor must be "
                          "positive and finite";
  if (!(high > low))
    return emitError() << "#grow.rope_scaling: high_freq_factor (" << high
                       << ") must exceed low_freq_factor (" << low << ")";
  if (originalContext < 1)
    return emitError() << "#grow.rope_scaling: original_context must be "
                          "positive, got "
                       << originalContext;
  return success();
}

//===----------------------------------------------------------------------===//
// Parameter names
//===----------------------------------------------------------------------===//

std::string growc::grow::layerParamName(int64_t index, StringRef suffix) {
  return ("model.layers." + Twine(index) + "." + suffix).str();
}

SmallVector<int64_t, 2> growc::grow::layerParamShape(ConfigAttr config,
                                                     StringRef suffix) {
  int64_t d = config.getHidden(), f = config.getFfn();
  int64_t q = config.getHeads() * config.getHeadDim();
  int64_t kv = config.getKvHeads() * config.getHeadDim();
  return llvm::StringSwitch<SmallVector<int64_t, 2>>(suffix)
      .Case("input_layernorm.weight", {d})
      .Case("post_attention_layernorm.weight", {d})
      .Case("self_attn.q_proj.weight", {q, d})
      .Case("self_attn.k_proj.weight", {kv, d})
      .Case("self_attn.v_proj.weight", {kv, d})
      .Case("self_attn.o_proj.weight", {d, q})
      .Case("mlp.gate_proj.weight", {f, d})
      .Case("mlp.up_proj.weight", {f, d})
      .Case("mlp.down_proj.weight", {d, f})
      .Default({});
}

std::optional<std::pair<int64_t, std::string>>
growc::grow::parseLayerParamName(StringRef name) {
  if (!name.consume_front("model.layers."))
    return std::nullopt;
  auto [indexText, suffix] = name.split('.');
  int64_t index;
  // Reject signs, leading zeros and empty suffixes so that the parse is the
  // exact inverse of layerParamName.
  if (indexText.empty() || suffix.empty() ||
      (indexText.size() > 1 && indexText[0] == '0') ||
      !llvm::all_of(indexText, llvm::isDigit) ||
      indexText.getAsInteger(10, index))
    return std::nullopt;
  if (!llvm::is_contained(kLayerParamSuffixes, suffix))
    return std::nullopt;
  return std::make_pair(index, suffix.str());
}

//===- GrowOps.h - grow dialect declarations --------------------*- C++ -*-===//
//
// The C++ side of the grow dialect: dialect, config attribute, the
// parameter-user interface and the ops, plus the names of a Llama layer's
// parameters that every part of growc agrees on.
//
//===----------------------------------------------------------------------===//

#ifndef GROWC_DIALECT_GROW_GROWOPS_H
#define GROWC_DIALECT_GROW_GROWOPS_H

#include "mlir/Bytecode/BytecodeOpInterface.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/BuiltinTypes.h"
#include "mlir/IR/Dialect.h"
#include "mlir/IR/OpAsmSupport.h"
#include "mlir/IR/OpDefinition.h"
#include "mlir/IR/OpImplementation.h"
#include "mlir/IR/SymbolTable.h"
#include "mlir/Interfaces/InferTypeOpInterface.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"
#include "llvm/ADT/SmallVector.h"

#include <array>
#include <string>

#include "dialects/Grow/GrowDialect.h.inc"

#define GET_ATTRDEF_CLASSES
#include "dialects/Grow/GrowAttrs.h.inc"

namespace growc::grow {

/// A parameter an op reads, by checkpoint name, with the shape the model
/// configuration requires.
struct ParameterRequirement {
  std::string name;
  llvm::SmallVector<int64_t, 2> shape;
};

/// Hugging Face names of a decoder layer's parameters, relative to
/// `model.layers.<i>.`, in checkpoint order.
inline constexpr std::array<const char *, 9> kLayerParamSuffixes = {
    "input_layernorm.weight",  "self_attn.q_proj.weight",
    "self_attn.k_proj.weight", "self_attn.v_proj.weight",
    "self_attn.o_proj.weight", "post_attention_layernorm.weight",
    "mlp.gate_proj.weight",    "mlp.up_proj.weight",
    "mlp.down_proj.weight"};

inline constexpr const char *kEmbedName = "model.embed_tokens.weight";
inline constexpr const char *kFinalNormName = "model.norm.weight";
inline constexpr const char *kLMHeadName = "lm_head.weight";

/// "model.layers.<index>.<suffix>".
std::string layerParamName(int64_t index, llvm::StringRef suffix);

/// The shape `config` requires of layer parameter `suffix`.
llvm::SmallVector<int64_t, 2> layerParamShape(ConfigAttr config,
                                              llvm::StringRef suffix);

/// Splits "model.layers.<i>.<suffix>" into (i, suffix); std::nullopt for a
/// name of any other form.
std::optional<std::pair<int64_t, std::string>>
parseLayerParamName(llvm::StringRef name);

class LayerOp;
class ParamOp;
class EmbedOp;
class ReturnOp;

} // namespace growc::grow

#include "dialects/Grow/Vjp.h"

#include "dialects/Grow/GrowInterfaces.h.inc"

#define GET_OP_CLASSES
#include "dialects/Grow/GrowOps.h.inc"

#endif // GROWC_DIALECT_GROW_GROWOPS_H

//===- HFConfig.h - import Hugging Face Llama configs -----------*- C++ -*-===//
//
// Turns a Hugging Face LlamaConfig (config.json, transformers v4 or v5) into
// a grow.model, and builds the canonical model IR for a configuration.
// docs/hf-config.md lists how each config field is handled.
//
//===----------------------------------------------------------------------===//

#ifndef GROWC_IMPORT_HFCONFIG_H
#define GROWC_IMPORT_HFCONFIG_H

#include "dialects/Grow/GrowOps.h"

#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/OwningOpRef.h"
#include "llvm/Support/Error.h"

#include <optional>
#include <string>
#include <vector>

namespace growc {

/// The deepest JSON nesting (arrays and objects) a config may have. LLVM's
/// JSON parser recurses once per level, so a deeper text (100 KB of `[`)
/// would overflow the stack; an HF config nests about 3 levels.
inline constexpr unsigned kMaxConfigJsonDepth = 64;

struct ImportOptions {
  /// Overrides num_hidden_layers (to start a growth run shallow).
  std::optional<int64_t> numLayers;
  /// Layers per block; unset picks 4, 2 or 1, the largest dividing the
  /// layer count.
  std::optional<int64_t> blockSize;
  std::string modelName = "model";
  /// Parameter element type: "f32", "bf16" or "f16".
  std::string paramDType = "f32";
  /// Unknown fields the user vouches for (growc --ignore-config-field):
  /// noted instead of refused.
  std::vector<std::string> ignoredFields;
};

struct ImportResult {
  mlir::OwningOpRef<mlir::ModuleOp> module;
  /// Fields that were ignored or defaults that were chosen, for the user.
  std::vector<std::string> notes;
};

/// The config file for `path`: `path/config.json` when it is a directory
/// (a Hugging Face model folder), else `path`.
std::string hfConfigPath(llvm::StringRef path);

/// Parses `json` (the text of a config.json) and builds the model. Fails
/// with a message naming the field for missing, mistyped, unknown or
/// unsupported settings (non-SiLU activations, biases, RoPE types other
/// than default / linear / llama3, spellings that disagree, ...), for JSON
/// nested deeper than kMaxConfigJsonDepth and for sizes the runtime cannot
/// run (docs/usage.md#limits).
llvm::Expected<ImportResult> importHFConfig(mlir::MLIRContext *context,
                                            llvm::StringRef json,
                                            const ImportOptions &options);

/// Builds a model named `name` with `numLayers` layers for `config`: all
/// parameters under their Hugging Face names and the residual-stream chain.
mlir::OwningOpRef<mlir::ModuleOp>
buildModel(mlir::MLIRContext *context, llvm::StringRef name,
           grow::ConfigAttr config, int64_t numLayers, mlir::Type paramType);

} // namespace growc

#endif // GROWC_IMPORT_HFCONFIG_H

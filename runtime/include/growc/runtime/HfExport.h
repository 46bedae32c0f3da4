//===- HfExport.h - A checkpoint as a Hugging Face model folder -*- C++ -*-===//
//
// growc-run export writes what transformers' `save_pretrained` writes for a
// LlamaForCausalLM, so that `from_pretrained`, lm-evaluation-harness and
// the rest of the ecosystem load a growc checkpoint without growc:
//
//   config.json                  the given config, num_hidden_layers set to
//                                the checkpoint's depth, the dtype recorded
//   generation_config.json       bos/eos/pad token ids, when the config
//                                names any (as save_pretrained derives it)
//   model.safetensors            the model's tensors only, in the export
//   | model-0000K-of-0000N.safetensors + model.safetensors.index.json
//                                dtype, each file with {"format": "pt"}
//   tokenizer.json, ...          the run's tokenizer files, when it had one
//
// The folder appears whole or not at all: it is built under a temporary
// name beside the destination and renamed into place (docs/checkpoints.md,
// "Export").
//
//===----------------------------------------------------------------------===//

#ifndef GROWC_RUNTIME_HFEXPORT_H
#define GROWC_RUNTIME_HFEXPORT_H

#include "growc/runtime/Safetensors.h"
#include "growc/runtime/Status.h"

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace growc::rt {

/// What to export and how.
struct HfExportOptions {
  /// config.json of the model, or a folder holding one.
  std::string config;
  /// The destination folder: absent, empty, or an earlier growc export
  /// (which is replaced); anything else is refused.
  std::string out;
  /// F32, BF16 or F16.
  DType dtype = DType::F32;
  /// Shards hold at most this many bytes of tensor data (a tensor larger
  /// than that gets a shard of its own), as transformers splits them.
  uint64_t maxShardSize = 5'000'000'000ull;
  /// tokenizer.json, or a folder holding one; empty: no tokenizer files.
  std::string tokenizer;
};

/// What an export wrote.
struct HfExportSummary {
  int64_t layers = 0;
  /// num_hidden_layers of the given config (-1: it had none).
  int64_t configLayers = -1;
  bool tied = false;
  /// Tensor bytes over all shards (the index's total_size).
  uint64_t totalSize = 0;
  /// The files of the folder, sorted.
  std::vector<std::string> files;
  /// Staging folders of exports to the same destination that were killed
  /// midway, removed.
  std::vector<std::string> removedStaging;
};

/// Exports the model tensors of `checkpoint` (a growc checkpoint: HF
/// parameter names, optimizer.* and growc.* entries are left out) to
/// options.out. Checks the tensors against the config first: every layer
/// 0..L-1 with all its parameters, every shape, a tied model's head.
StatusOr<HfExportSummary> exportHuggingFace(const SafetensorsFile &checkpoint,
                                            const HfExportOptions &options);

/// A size as transformers' convert_file_size_to_int reads it: plain bytes,
/// or digits with a unit KB/MB/GB (10^3, 10^6, 10^9 bytes; a lower-case
/// final b means bits) or KiB/MiB/GiB (2^10, 2^20, 2^30), any case.
/// Must be positive.
StatusOr<uint64_t> parseFileSize(std::string_view text);

/// IEEE float32 to bfloat16, rounding to nearest even; NaN becomes the
/// canonical quiet NaN 0x7FC0 (as torch converts), infinities stay.
uint16_t floatToBf16(float value);
/// IEEE float32 to float16, rounding to nearest even (overflow to
/// infinity, subnormals kept); NaN stays a quiet NaN of the same sign.
uint16_t floatToF16(float value);

} // namespace growc::rt

#endif // GROWC_RUNTIME_HFEXPORT_H

//===- Export.cpp - growc-run export --------------------------------------===//
//
//   growc-run export C.safetensors --config CONFIG.json -o DIR
//       [--dtype f32|bf16|f16] [--max-shard-size 5GB] [--tokenizer PATH]
//
// Writes the model of a growc checkpoint as a Hugging Face model folder
// (what save_pretrained writes; runtime/lib/HfExport.cpp), which
// from_pretrained and lm-evaluation-harness load. The tokenizer is the
// run's (recorded in the checkpoint's growc.run_options) unless
// --tokenizer names one.
//
//===----------------------------------------------------------------------===//

#include "Commands.h"

#include "growc/runtime/HfExport.h"
#include "growc/runtime/Json.h"
#include "growc/runtime/Safetensors.h"
#include "growc/runtime/TrainOutputs.h"

#include <cstdio>
#include <memory>

using namespace growc::rt;

namespace {

struct ExportOptions {
  std::string checkpoint, config, out, dtype = "f32", maxShardSize = "5GB",
                                       tokenizer;
};

/// The tokenizer a training run recorded (growc-run train --tokenizer), or
/// "" where it used the byte vocabulary or recorded none.
StatusOr<std::string> recordedTokenizer(const SafetensorsFile &checkpoint) {
  for (const auto &[key, value] : checkpoint.metadata()) {
    if (key != kRunOptionsKey)
      continue;
    StatusOr<JsonValue> options = parseJson(value);
    if (!options.isOk())
      return Status::error(checkpoint.path() + ": metadata " + key + ": " +
                           options.status().message());
    const JsonValue *tokenizer = options->find("tokenizer");
    if (!tokenizer || tokenizer->isNull())
      return std::string();
    if (!tokenizer->isString())
      return Status::error(checkpoint.path() + ": metadata " + key +
                           ": tokenizer is not a path");
    std::string path = tokenizer->asString();
    return path == "byte" ? std::string() : path;
  }
  return std::string();
}

int runExport(const ExportOptions &opts) {
  StatusOr<uint64_t> maxShardSize = parseFileSize(opts.maxShardSize);
  if (!maxShardSize.isOk())
    return fail("export: --max-shard-size: " + maxShardSize.status().message());
  StatusOr<SafetensorsFile> checkpoint = SafetensorsFile::open(opts.checkpoint);
  if (!checkpoint.isOk())
    return fail("export: " + checkpoint.status().message());
  HfExportOptions options;
  options.config = opts.config;
  options.out = opts.out;
  options.dtype = opts.dtype == "bf16"  ? DType::BF16
                  : opts.dtype == "f16" ? DType::F16
                                        : DType::F32;
  options.maxShardSize = *maxShardSize;
  options.tokenizer = opts.tokenizer;
  if (options.tokenizer.empty()) {
    StatusOr<std::string> recorded = recordedTokenizer(*checkpoint);
    if (!recorded.isOk())
      return fail("export: " + recorded.status().message());
    options.tokenizer = *recorded;
  }
  StatusOr<HfExportSummary> summary = exportHuggingFace(*checkpoint, options);
  if (!summary.isOk()) {
    std::string hint;
    if (opts.tokenizer.empty() && !options.tokenizer.empty() &&
        (summary.status().message().rfind("tokenizer", 0) == 0 ||
         summary.status().message().find(options.tokenizer) !=
             std::string::npos))
      hint = " (the run's tokenizer, recorded in " + opts.checkpoint +
             "; --tokenizer PATH names another)";
    return fail("export: " + summary.status().message() + hint);
  }
  for (const std::string &stale : summary->removedStaging)
    std::fprintf(stderr,
                 "growc-run: export: removed %s, left by an export that "
                 "was killed\n",
                 stale.c_str());
  std::string files;
  for (const std::string &file : summary->files)
    files += (files.empty() ? "" : ", ") + file;
  std::string depth = std::to_string(summary->layers) + " layers";
  if (summary->configLayers >= 0 && summary->configLayers != summary->layers)
    depth += " (the config said " + std::to_string(summary->configLayers) + ")";
  std::fprintf(stderr,
               "growc-run: exported %s to %s: %s, %s%s, %llu bytes of "
               "tensors; %s\n",
               opts.checkpoint.c_str(), opts.out.c_str(), depth.c_str(),
               opts.dtype.c_str(), summary->tied ? ", tied head" : "",
               (unsigned long long)summary->totalSize, files.c_str());
  return 0;
}

} // namespace

Command growc::rt::addExportCommand(CLI::App &app) {
  auto opts = std::make_shared<ExportOptions>();
  CLI::App *command = addCommand(
      app, "export", "A checkpoint as a Hugging Face model folder",
      "Writes the model of checkpoint C as save_pretrained does, for\n"
      "from_pretrained and lm-evaluation-harness: config.json (CONFIG's\n"
      "fields in order, num_hidden_layers set to C's depth, torch_dtype /\n"
      "dtype to the export's), model.safetensors or shards\n"
      "model-0000K-of-0000N.safetensors with model.safetensors.index.json\n"
      "(only the model's tensors; {\"format\": \"pt\"}), "
      "generation_config.json\n"
      "where CONFIG names bos/eos/pad ids, and the tokenizer files of the\n"
      "run (or --tokenizer). DIR appears whole or not at all; an existing DIR\n"
      "must be empty or an earlier export, which is replaced.");
  command->add_option("C", opts->checkpoint, "A growc checkpoint")->required();
  command
      ->add_option("--config", opts->config,
                   "The model's config.json (or a folder holding one)")
      ->required();
  command->add_option("-o,--out", opts->out, "The folder to write")->required();
  oneOf(command->add_option("--dtype", opts->dtype,
                            "Tensor type of the export: f32 (default), bf16 "
                            "or f16 (rounded to nearest even)"),
        {"f32", "bf16", "f16"});
  command->add_option("--max-shard-size", opts->maxShardSize,
                      "Largest shard, as transformers reads it: 5GB "
                      "(default), 500MB, 2GiB or bytes");
  command->add_option("--tokenizer", opts->tokenizer,
                      "tokenizer.json (or its folder) to include; default: "
                      "the one the run recorded, if any");
  return {command, [opts] { return runExport(*opts); }};
}

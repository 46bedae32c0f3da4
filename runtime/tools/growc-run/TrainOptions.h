//===- TrainOptions.h - growc-run train's options and a resume's -*- C++
//-*-===//
//
// The options of `growc-run train` and the part of them a checkpoint records
// (growc.run_options, docs/training.md "Run safety"): what a new run
// records, and how a resume takes the recorded ones, refusing different
// ones unless --override names them.
//
//===----------------------------------------------------------------------===//

#ifndef GROWC_RUNTIME_TOOLS_GROWC_RUN_TRAINOPTIONS_H
#define GROWC_RUNTIME_TOOLS_GROWC_RUN_TRAINOPTIONS_H

#include "growc/runtime/Checkpoint.h"
#include "growc/runtime/Plan.h"
#include "growc/runtime/Safetensors.h"
#include "growc/runtime/TrainOutputs.h"

#include <CLI/CLI.hpp>

#include <map>
#include <string>
#include <vector>

namespace growc::rt {

struct TrainOptions {
  std::string artifact, weights, resume, data, out, metricsPath, growMethod,
      device, onNonfinite = "stop", overrides;
  /// --val-data (held-out windows; not recorded, like --val-every) and
  /// --tokenizer (recorded as an absolute path).
  std::string valData, tokenizer;
  /// --trainable: checked against the plan's frozen set, not recorded (the
  /// plan is what trains).
  std::string trainable;
  long long steps = 0, warmup = -1, valEvery = 0, saveEvery = 0, keepEvery = 0,
            threads = 0, stopAt = 0, stages = 0, blockSize = 0, nproc = 0;
  unsigned long long seed = 0;
  double lr = 3e-3, alpha = 1.0, growFraction = 0.8;
  bool zeroNewMoments = false;
  /// --peak-tflops: the peak MFU is measured against (0: a known GPU's
  /// datasheet peak, else no MFU); not recorded, like --threads.
  double peakTflops = 0;
  /// The options a checkpoint records, by name: whether each was given.
  std::map<std::string, CLI::Option *> recorded;
};

/// The options `opts` records in a checkpoint for a run on `plan` with
/// `world` ranks.
std::vector<RunOption> runOptionsOf(const TrainOptions &opts, const Plan &plan,
                                    int world);

/// A resumed run: sets the options of `opts` that the command leaves out to
/// those `checkpoint` recorded, and fails naming those it changes without
/// --override; says on stderr (when `leader`) what it took. Returns the
/// checkpoint's step and sets `recordedText` to the options to record.
StatusOr<int64_t> resumeOptions(TrainOptions &opts, const Plan &plan,
                                const Checkpoint &checkpoint, int world,
                                bool leader, std::string &recordedText);

} // namespace growc::rt

#endif // GROWC_RUNTIME_TOOLS_GROWC_RUN_TRAINOPTIONS_H

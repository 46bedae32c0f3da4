//===- Commands.h - The commands of growc-run -------------------*- C++ -*-===//
//
// Each command lives in its own file and adds itself to the command line
// here; growc-run.cpp dispatches to the one chosen.
//
//===----------------------------------------------------------------------===//

#ifndef GROWC_RUNTIME_TOOLS_GROWC_RUN_COMMANDS_H
#define GROWC_RUNTIME_TOOLS_GROWC_RUN_COMMANDS_H

#include "CommandLine.h"

#include "growc/runtime/Checkpoint.h"

#include <cstdint>
#include <optional>

namespace growc::rt {

/// forward, grad and train-step: one run of a graph on files (Forward.cpp).
std::vector<Command> addForwardCommands(CLI::App &app);
/// train: the training loop (Train.cpp).
Command addTrainCommand(CLI::App &app, const RawArgs &raw);
/// eval: primitive accuracy of a checkpoint (Eval.cpp).
Command addEvalCommand(CLI::App &app);
/// sample: seeded reasoning-primitive prompts (Sample.cpp).
Command addSampleCommand(CLI::App &app);
/// analyze and report: the depth analyses (Analyze.cpp).
Command addAnalyzeCommand(CLI::App &app);
Command addReportCommand(CLI::App &app);
/// tokenize: text to llm.c token shards (Tokenize.cpp).
Command addTokenizeCommand(CLI::App &app);
/// export: a checkpoint as a Hugging Face model folder (Export.cpp).
Command addExportCommand(CLI::App &app);
/// cost: one step's GPU cost, predicted from the plan (Cost.cpp).
Command addCostCommand(CLI::App &app);

/// The context the weights of `checkpoint` were trained at, as eval and
/// analyze check prompts and windows against it (Eval.cpp): its
/// growc.trained_context record, or nullopt, said once on stderr as
/// "trained context unknown", when it has none (weights from growc
/// --init-weights-out or a Hugging Face checkpoint).
StatusOr<std::optional<int64_t>> trainedContextOf(const std::string &command,
                                                  const Checkpoint &checkpoint);

#ifndef GROWC_HAVE_CUDA
/// Why a GPU artifact cannot run in this build.
inline constexpr const char *kCudaMissing =
    "this growc-run was built without the CUDA headers, so it has no CUDA "
    "executor (use --device=cpu with an artifact compiled with "
    "--target=cpu)";
#endif

} // namespace growc::rt

#endif // GROWC_RUNTIME_TOOLS_GROWC_RUN_COMMANDS_H

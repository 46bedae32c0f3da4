//===- growc.cpp - the growc driver ---------------------------------------===//
//
// growc model.mlir --grow=lidas [--block-size=N] [--grow-steps=K]
//       --emit=mlir -o grown.mlir [--weights-in W --weights-out G]
// growc --import-hf-config config.json -o model.mlir
// growc model.mlir --print-schedule --total-steps=T [--stages=k] ...
// growc model.mlir [--grow=lidas] -o train.ptx|train.so  (--graph=train,
//       the default; --graph=forward|loss|grad choose another graph)
//
// The command line only: parses and checks options, then calls the driver
// library (include/growc/Driver.h), which runs the named pipelines
// (include/growc/Pipelines.h) that growc-opt runs too. MLIR's pass-manager
// options (--mlir-print-ir-after-all, --mlir-timing, ...) apply to them.
//
//===----------------------------------------------------------------------===//

#include "Options.h"

#include "growc/Driver.h"
#include "growc/Growth/GrowthSchedule.h"
#include "growc/Growth/InitWeights.h"
#include "growc/Growth/MigrateCheckpoint.h"
#include "growc/Import/HFConfig.h"
#include "growc/InitAll.h"
#include "growc/Version.h"
#include "growc/runtime/Limits.h"
#include "passes/Training/Passes.h"

#include "mlir/IR/AsmState.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/IR/Verifier.h"
#include "mlir/Parser/Parser.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Pass/PassRegistry.h"
#include "mlir/Support/FileUtilities.h"
#include "mlir/Support/Timing.h"
#include "llvm/Support/CommandLine.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/InitLLVM.h"
#include "llvm/Support/MathExtras.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/SourceMgr.h"
#include "llvm/Support/ToolOutputFile.h"
#include "llvm/Support/WithColor.h"
#include "llvm/Support/raw_ostream.h"

#include <csignal>

using namespace mlir;
using namespace growc;
using namespace growc::opts;
namespace cl = llvm::cl;

namespace {

int fail(const llvm::Twine &message) {
  (void)reportError(message);
  return 1;
}

//===----------------------------------------------------------------------===//
// Sizes that cannot run (docs/usage.md#limits), rejected before any pass runs
//===----------------------------------------------------------------------===//

namespace limits = growc::rt::limits;

/// a * b and a + b, or nullopt when an operand is nullopt or the result
/// overflows int64.
std::optional<int64_t> checkedMul(std::optional<int64_t> a,
                                  std::optional<int64_t> b) {
  int64_t result;
  if (!a || !b || llvm::MulOverflow(*a, *b, result))
    return std::nullopt;
  return result;
}
std::optional<int64_t> checkedAdd(std::optional<int64_t> a,
                                  std::optional<int64_t> b) {
  int64_t result;
  if (!a || !b || llvm::AddOverflow(*a, *b, result))
    return std::nullopt;
  return result;
}

std::string bytesText(std::optional<int64_t> bytes) {
  return bytes ? llvm::formatv("{0:e1} bytes", double(*bytes)).str()
               : std::string("more than 2^63 bytes");
}

/// The layer count after `steps` growth steps of blocks of `blockSize`
/// layers, failing past growc's layer limit: describing and running a
/// billion steps would otherwise take hours before any error.
int checkGrownLayers(grow::ModelOp model, int64_t steps, int64_t blockSize,
                     const llvm::Twine &request) {
  int64_t layers = model.getLayers().size();
  std::optional<int64_t> grown =
      checkedAdd(layers, checkedMul(steps, blockSize));
  if (grown && *grown <= limits::kMaxLayers)
    return 0;
  return fail(request + ": the grown model would have " +
              (grown ? std::to_string(*grown) : "more than 2^63") +
              " layers; growc builds at most " +
              std::to_string(limits::kMaxLayers) + " (docs/usage.md#limits)");
}

/// Each one-shot recipe's options belong to it alone and the recipes are
/// not schedules: fails on an option given to another method (or to none),
/// a missing required option, --grow-steps other than 1 and --stages.
int checkRecipeOptions() {
  struct RecipeOption {
    const llvm::cl::Option &option;
    GrowthMethod method;
    const char *usage;
  };
  const RecipeOption recipeOptions[] = {
      {expandEvery, GrowthMethod::BlockExpansion, "--expand-every=N"},
      {expandOutputScale, GrowthMethod::BlockExpansion, ""},
      {upscaleDrop, GrowthMethod::DepthUpscale, "--upscale-drop=M"},
      {layerRanges, GrowthMethod::Layers, "--layer-ranges=B:E,..."},
      {stackFactor, GrowthMethod::GStack, "--stack-factor=G"},
  };
  std::optional<GrowthMethod> method = parseGrowthMethod(growMethod);
  for (const RecipeOption &opt : recipeOptions) {
    std::string name = ("--" + opt.option.ArgStr).str();
    std::string owner = ("--grow=" + growthMethodName(opt.method)).str();
    if (opt.option.getNumOccurrences() && method != opt.method)
      return fail(name + " applies to " + owner + ", not to " +
                  (growMethod.empty() ? std::string("a run without --grow")
                                      : "--grow=" + growMethod));
    if (method == opt.method && *opt.usage && !opt.option.getNumOccurrences())
      return fail(owner + " needs " + opt.usage);
  }
  if (!method || !isLayerRecipe(*method))
    return 0;
  std::string recipe = "--grow=" + growMethod;
  if (growSteps != 1)
    return fail(recipe +
                " is a one-shot recipe for a pretrained model, not "
                "a schedule: --grow-steps must be 1, got " +
                std::to_string(growSteps));
  if (stages.getNumOccurrences())
    return fail(recipe + " is a one-shot recipe for a pretrained model, not "
                         "a schedule: --stages does not apply (grow once, "
                         "then train the grown model)");
  return 0;
}

/// Fails a compile that needs an arena larger than any the runtime can map,
/// from the sizes known before lowering: the parameters of the model with
/// `layers` layers and, for the forward graph, its logits output. Both are
/// in the arena whatever the kernels, so their sum is a lower bound.
int checkArenaSize(grow::ModelOp model, int64_t layers, bool forward) {
  grow::ConfigAttr config = model.getConfig();
  auto embed = model.lookupParam(grow::kEmbedName);
  int64_t elementBytes =
      embed ? (embed.getType().getElementTypeBitWidth() + 7) / 8 : 4;
  std::optional<int64_t> layerElements = 0;
  for (const char *suffix : grow::kLayerParamSuffixes) {
    std::optional<int64_t> n = 1;
    for (int64_t d : grow::layerParamShape(config, suffix))
      n = checkedMul(n, d);
    layerElements = checkedAdd(layerElements, n);
  }
  std::optional<int64_t> embedElements =
      checkedMul(config.getVocab(), config.getHidden());
  std::optional<int64_t> elements =
      checkedAdd(checkedMul(layerElements, layers),
                 checkedAdd(checkedMul(embedElements, config.getTied() ? 1 : 2),
                            config.getHidden()));
  std::optional<int64_t> paramBytes = checkedMul(elements, elementBytes);
  if (!paramBytes || *paramBytes > limits::kMaxArenaBytes)
    return fail(llvm::formatv("the {0}-layer model's parameters would need "
                              "{1}; the runtime's arena holds at most 2^47 "
                              "bytes (docs/usage.md#limits)",
                              layers, bytesText(paramBytes))
                    .str());
  if (!forward)
    return 0;
  // batch x seq was checked against the GEMM limit, so this fits.
  std::optional<int64_t> logitsBytes =
      checkedMul(checkedMul(batchSize * seqLength, config.getVocab()), 4);
  std::optional<int64_t> total = checkedAdd(logitsBytes, paramBytes);
  if (!total || *total > limits::kMaxArenaBytes)
    return fail(llvm::formatv("--batch {0} --seq {1}: the forward graph's "
                              "logits (batch x seq x vocab {2} x 4) would "
                              "need {3}; the runtime's arena holds at most "
                              "2^47 bytes (docs/usage.md#limits)",
                              int64_t(batchSize), int64_t(seqLength),
                              config.getVocab(), bytesText(logitsBytes))
                    .str());
  return 0;
}

int printGrowthSchedule(std::optional<grow::ModelOp> model) {
  ScheduleOptions opts;
  opts.totalSteps = totalSteps;
  opts.alpha = alpha;
  opts.growFraction = growFraction;
  opts.startBlocks = startBlocks;
  opts.blockSize = blockSize;
  opts.stages = stages;
  FlopModel flops;
  if (model) {
    grow::ConfigAttr config = model->getConfig();
    int64_t b = blockSize ? blockSize : config.getBlockSize();
    int64_t layers = model->getLayers().size();
    if (b < 1 || layers % b != 0)
      return fail(llvm::formatv("the model's {0} layers are not a multiple "
                                "of the block size {1}",
                                layers, b)
                      .str());
    opts.blockSize = b;
    if (!stages)
      opts.stages = layers / b - startBlocks + 1;
    for (const char *suffix : grow::kLayerParamSuffixes) {
      int64_t n = 1;
      for (int64_t d : grow::layerParamShape(config, suffix))
        n *= d;
      flops.layerParams += n;
    }
    flops.headParams = config.getVocab() * config.getHidden();
    flops.attentionWidth = config.getHeads() * config.getHeadDim();
    flops.seqLen = seqLength.getNumOccurrences() ? int64_t(seqLength)
                                                 : config.getContextLength();
  } else if (!blockSize) {
    opts.blockSize = 4;
  }
  auto schedule = planGrowthSchedule(opts);
  if (!schedule.isOk())
    return fail(schedule.status().message());
  llvm::outs() << schedule->format(model ? &flops : nullptr);
  return 0;
}

/// The artifact options the command line asks for.
ArtifactOptions artifactOptions(bool ptx) {
  ArtifactOptions options;
  options.ptx = ptx;
  options.graph = {graph,    batchSize,  seqLength,      keyBlock,
                   lossRows, accumulate, fuseProjections};
  // The GPU sums RMSNorm weight gradients in the dx kernels; the CPU (also
  // --kernel-form=gpu) keeps the GEMM form.
  options.graph.normGradColumnSum = ptx;
  bool gpuKernels = ptx || kernelForm == "gpu";
  // GPU-shaped kernels (also run on the CPU, whose threads take blocks in
  // parallel too) add embedding gradient rows with atomics.
  options.graph.atomicEmbedGrad = gpuKernels;
  options.kernels.target =
      gpuKernels ? CodegenTarget::Nvptx : CodegenTarget::Cpu;
  options.kernels.precision = precision;
  options.kernels.gpuAttention = gpuAttention;
  options.kernels.threadsPerBlock = threadsPerBlock;
  options.ptxOptions.chip = gpuChip;
  options.ptxOptions.features = ptxFeatures;
  options.ptxOptions.libdevicePath = libdevice;
  options.allReduceBucketBytes = int64_t(allReduceBucketMb * 1024 * 1024);
  options.quiet = quiet;
  return options;
}

/// growc-freeze-parameters with --trainable: marks what the train graph
/// does not update.
LogicalResult freezeParameters(MLIRContext &context, ModuleOp module) {
  PassManager pm(&context);
  pm.addPass(createFreezeParameters({trainable}));
  return pm.run(module);
}

int run(MLIRContext &context) {
  if (inputFile.empty() == importConfig.empty())
    return fail("give exactly one input: a model .mlir file or "
                "--import-hf-config config.json");
  StringRef outExt = llvm::sys::path::extension(outputFile);
  if (emit.empty())
    emit = outExt == ".so" ? "so" : outExt == ".ptx" ? "ptx" : "mlir";
  if (!target.empty() && target != "cpu" && target != "nvptx")
    return fail("--target must be cpu or nvptx, got '" + target + "'");
  if (target == "nvptx" && !emit.getNumOccurrences() && outExt != ".ptx")
    emit = "ptx";
  if (emit != "mlir" && emit != "so" && emit != "ptx")
    return fail("--emit must be mlir, so or ptx, got '" + emit + "'");
  if ((emit == "so" && target == "nvptx") || (emit == "ptx" && target == "cpu"))
    return fail("--target=" + target + " does not write --emit=" + emit);
  if ((emit == "so" || emit == "ptx") &&
      (outputFile.empty() || outputFile == "-"))
    return fail("--emit=" + emit + " needs an output file (-o model." + emit +
                ")");
  if (kernelForm != "cpu" && kernelForm != "gpu")
    return fail("--kernel-form must be cpu or gpu, got '" + kernelForm + "'");
  if (kernelForm == "gpu" && emit != "so")
    return fail("--kernel-form=gpu compiles the GPU-shaped kernels for the "
                "CPU (-o model.so); PTX always has them");
  if (!gpuAttention.empty() && gpuAttention != "flash" &&
      gpuAttention != "gemm" && gpuAttention != "mma")
    return fail("--gpu-attention must be flash, gemm or mma, got '" +
                gpuAttention + "'");
  if (gpuAttention == "gemm" && emit == "so" && kernelForm != "gpu")
    return fail("--gpu-attention is for the GPU target (-o *.ptx, or "
                "--kernel-form=gpu to run the GPU kernels on the CPU)");
  // The library kernel is PTX; the CPU cannot run it, not even as loops.
  if (gpuAttention == "mma" && emit == "so")
    return fail("--gpu-attention=mma is for the GPU target (-o *.ptx): its "
                "kernel exists only as PTX");
  if (!precision.empty() && precision != "bf16" && precision != "fp32")
    return fail("--precision must be bf16 or fp32, got '" + precision + "'");
  if (precision.empty())
    precision = emit == "ptx" ? "bf16" : "fp32";
  // bf16 graphs accept bf16 rounding inside attention too, so they get the
  // tensor cores; fp32 graphs, for checking, keep fp32 attention.
  if (gpuAttention.empty())
    gpuAttention =
        emit == "ptx" && precision == "bf16" ? "mma-default" : "flash";
  if (precision == "bf16" && emit == "so" && kernelForm != "gpu")
    return fail("--precision=bf16 is for the GPU target (-o *.ptx); the CPU "
                "target computes in fp32 (--kernel-form=gpu runs the bf16 GPU "
                "kernels on the CPU, for checking them)");
  if (threadsPerBlock < 1 || threadsPerBlock > 1024)
    return fail("--gpu-threads must be in [1, 1024]");
  if (graph != "forward" && graph != "loss" && graph != "grad" &&
      graph != "train")
    return fail("--graph=" + graph +
                " is not available; this build compiles the forward graph "
                "(--graph=forward), the loss (--graph=loss), the gradients "
                "(--graph=grad) and the training step (--graph=train)");
  if (outputFile != "-" && !outputFile.empty() && emit == "mlir" &&
      outExt != ".mlir" && !emit.getNumOccurrences())
    return fail("cannot infer what to write to '" + outputFile +
                "': use --emit=mlir, -o *.so or -o *.ptx");
  if (batchSize < 1 || seqLength < 1 || keyBlock < 1)
    return fail("--batch, --seq and --key-block must be positive");
  if (accumulate < 1 || (accumulate > 1 && graph != "train"))
    return fail("--accumulate N (N >= 1) applies to --graph=train");
  if (lossRows < 0)
    return fail("--loss-rows must be non-negative (0: automatic)");
  if (!(allReduceBucketMb > 0) || allReduceBucketMb > 1e6)
    return fail("--all-reduce-bucket-mb must be in (0, 1e6]");
  if (weightsIn.empty() != weightsOut.empty())
    return fail("--weights-in and --weights-out go together");
  if (growSteps < 0)
    return fail("--grow-steps must be non-negative");
  // Only gradients can be frozen, and a growth run's stages each train
  // whole (their moments migrate from stage to stage).
  if (trainable != "all" && emit != "mlir" &&
      (graph == "forward" || graph == "loss" || analysisSuite))
    return fail("--trainable=" + trainable +
                " chooses what the train (or grad) graph updates; " +
                (analysisSuite ? "--analysis-suite compiles forward graphs"
                               : "--graph=" + graph + " has no gradients"));
  if (trainable != "all" && emit != "mlir" && stages.getNumOccurrences())
    return fail("--trainable=" + trainable +
                ": a growth run (--stages) trains every stage whole; compile "
                "the grown model alone (--grow without --stages) to train "
                "part of it");
  if (int rc = checkRecipeOptions())
    return rc;
  if (emit != "mlir") {
    // What the runtime's plan verifier would reject (docs/usage.md#limits).
    std::optional<int64_t> tokens =
        checkedMul(int64_t(batchSize), int64_t(seqLength));
    if (!tokens || *tokens > limits::kMaxGemmDim)
      return fail(llvm::formatv("--batch {0} --seq {1}: {2} tokens per "
                                "micro-batch; the runtime's GEMMs take at "
                                "most 2^31 - 1 rows (docs/usage.md#limits)",
                                int64_t(batchSize), int64_t(seqLength),
                                tokens ? std::to_string(*tokens)
                                       : std::string("more than 2^63"))
                      .str());
    if (seqLength > limits::kMaxSeq)
      return fail(llvm::formatv("--seq {0}: the runtime's attention takes at "
                                "most 2^24 positions (docs/usage.md#limits)",
                                int64_t(seqLength))
                      .str());
    if (accumulate > limits::kMaxMicroBatches)
      return fail(llvm::formatv("--accumulate {0}: the runtime runs at most "
                                "2^20 micro-batches per step "
                                "(docs/usage.md#limits)",
                                int64_t(accumulate))
                      .str());
  }

  // Load or import the model.
  OwningOpRef<ModuleOp> module;
  if (!importConfig.empty()) {
    // A model folder names its config.json.
    std::string configFile = hfConfigPath(importConfig);
    auto text = llvm::MemoryBuffer::getFile(configFile, /*IsText=*/true);
    if (!text)
      return fail("cannot read '" + configFile +
                  "': " + text.getError().message());
    ImportOptions opts;
    if (numLayers >= 0)
      opts.numLayers = numLayers;
    if (blockSize)
      opts.blockSize = blockSize;
    opts.modelName = modelName;
    opts.paramDType = paramDType;
    opts.ignoredFields.assign(ignoreConfigFields.begin(),
                              ignoreConfigFields.end());
    auto imported = importHFConfig(&context, (*text)->getBuffer(), opts);
    if (!imported)
      return fail(configFile + ": " + llvm::toString(imported.takeError()));
    for (const std::string &note : imported->notes)
      llvm::WithColor::note(llvm::errs(), "growc")
          << configFile << ": " << note << "\n";
    module = std::move(imported->module);
    if (failed(verify(*module)))
      return 1;
  } else {
    llvm::SourceMgr sourceMgr;
    SourceMgrDiagnosticHandler handler(sourceMgr, &context);
    std::string error;
    auto file = openInputFile(inputFile, &error);
    if (!file)
      return fail(error);
    sourceMgr.AddNewSourceBuffer(std::move(file), llvm::SMLoc());
    module = parseSourceFile<ModuleOp>(sourceMgr, &context);
    if (!module)
      return 1;
  }

  FailureOr<grow::ModelOp> model = findModel(*module);
  if (failed(model))
    return 1;
  if (printSchedule) {
    if (int rc = printGrowthSchedule(*model))
      return rc;
    if (outputFile.empty())
      return 0;
  }

  if (!initWeightsOut.empty()) {
    InitOptions opts;
    opts.seed = seed;
    ArtifactSet set;
    FailureOr<std::string> temp = set.stage(initWeightsOut);
    if (failed(temp))
      return 1;
    if (llvm::Error err = writeInitialWeights(*model, *temp, opts))
      return fail(set.finalNames(llvm::toString(std::move(err))));
    if (failed(set.commit()))
      return 1;
  }

  // Grow.
  // The input is the base of this growth: provenance left by an earlier
  // growth names *its* input, not this checkpoint's tensors, so it is reset.
  // --trainable=inserted means what this command's growth inserts, or
  // without --grow what the input's provenance says was inserted: it is
  // read here, before the reset.
  if (trainable.getNumOccurrences() && growMethod.empty() &&
      failed(freezeParameters(context, *module)))
    return 1;
  resetProvenance(*model);
  OwningOpRef<ModuleOp> original = module->clone();
  bool compiling = emit == "so" || emit == "ptx";
  if (!growMethod.empty()) {
    std::optional<GrowthMethod> method = parseGrowthMethod(growMethod);
    if (!method)
      return fail("--grow must be midas, lidas, gradstack, block-expansion, "
                  "depth-upscale, layers or gstack, got '" +
                  growMethod + "'");
    if (!parseLidasOddPolicy(lidasOdd))
      return fail("--lidas-odd must be midas or centred, got '" + lidasOdd +
                  "'");
    GrowthPipelineOptions growth;
    growth.method = *method;
    growth.blockSize = blockSize;
    growth.steps = growSteps;
    growth.lidasOdd = lidasOdd;
    growth.expandEvery = expandEvery;
    growth.expandOutputScale = expandOutputScale;
    growth.upscaleDrop = upscaleDrop;
    growth.layerRanges = layerRanges;
    growth.stackFactor = stackFactor;
    bool growthRun = stages.getNumOccurrences() && compiling;
    // A growth run's last stage is grown stages - 1 times; compileGrowthRun
    // checks the stage count itself.
    int64_t steps =
        growthRun ? std::clamp<int64_t>(stages, 1, 64) - 1 : int64_t(growSteps);
    // An invalid block size is reported by the growth pass.
    int64_t b = std::max<int64_t>(
        blockSize ? int64_t(blockSize) : model->getConfig().getBlockSize(), 1);
    // A recipe's planner checks the layer limit itself (describeGrowth).
    if (!isLayerRecipe(*method))
      if (int rc = checkGrownLayers(
              *model, steps, b,
              growthRun ? "--stages " + std::to_string(stages)
                        : "--grow-steps " + std::to_string(growSteps)))
        return rc;
    if (growthRun) {
      if (int rc = checkArenaSize(*model, model->getLayers().size() + steps * b,
                                  graph == "forward"))
        return rc;
      if (!analysisPasses.empty())
        return fail("--analysis-passes apply to one model, not to the "
                    "stages of a growth run (--stages)");
      if (!weightsIn.empty())
        return fail("--stages compiles a growth run; growc-run train "
                    "migrates its weights and moments at each stage "
                    "boundary, so --weights-in/--weights-out do not apply");
      if (growSteps.getNumOccurrences())
        return fail("--stages=K compiles stages grown 0..K-1 times; drop "
                    "--grow-steps");
      return failed(compileGrowthRun(context, *module,
                                     artifactOptions(emit == "ptx"), growth,
                                     growMethod, stages, outputFile));
    }
    if (failed(describeGrowth(*model, growth, quiet)) ||
        failed(growModel(context, *module, growth)))
      return 1;
    if (trainable.getNumOccurrences() &&
        failed(freezeParameters(context, *module)))
      return 1;
    model = findModel(*module);
  }
  if (analysisSuite) {
    if (!compiling)
      return fail("--analysis-suite compiles artifacts: -o suite.so");
    if ((graph.getNumOccurrences() && graph != "forward") ||
        !analysisPasses.empty())
      return fail("--analysis-suite builds its own forward graphs; drop "
                  "--graph and --analysis-passes");
    graph = "forward";
    if (int rc = checkArenaSize(*model, model->getLayers().size(),
                                /*forward=*/true))
      return rc;
    AnalysisSuiteOptions opts;
    opts.split = analysisSplit;
    opts.lensAt = analysisLensAt;
    opts.skipPosition0 = analysisSkipPosition0;
    if (!analysisSwapWindows.empty())
      opts.swapWindows.assign(analysisSwapWindows.begin(),
                              analysisSwapWindows.end());
    if (!analysisReverseWindows.empty())
      opts.reverseWindows.assign(analysisReverseWindows.begin(),
                                 analysisReverseWindows.end());
    return failed(compileAnalysisSuite(
        context, *module, artifactOptions(emit == "ptx"), opts, outputFile));
  }
  if (!analysisPasses.empty()) {
    PassManager pm(&context);
    if (failed(parsePassPipeline(analysisPasses, pm)))
      return fail("cannot parse --analysis-passes '" + analysisPasses + "'");
    if (failed(pm.run(*module)))
      return 1;
    model = findModel(*module);
  }
  if (printLineage)
    llvm::outs() << formatLineage(*model) << "\n";
  if (compiling) {
    if (!weightsIn.empty())
      return fail("--weights-in/--weights-out migrate checkpoints with "
                  "--emit=mlir; compile the grown model.mlir separately");
    if (int rc = checkArenaSize(*model, model->getLayers().size(),
                                graph == "forward"))
      return rc;
    return failed(compileArtifact(context, *module,
                                  artifactOptions(emit == "ptx"), outputFile));
  }

  // The IR and the migrated checkpoint appear together or not at all.
  ArtifactSet set;
  bool irFile = !outputFile.empty() && outputFile != "-";
  if (irFile && failed(set.write(outputFile, [&](llvm::raw_ostream &os) {
        module->print(os);
      })))
    return 1;
  std::optional<MigrationReport> report;
  if (!weightsIn.empty()) {
    FailureOr<std::string> temp = set.stage(weightsOut);
    if (failed(temp))
      return 1;
    auto before = findModel(*original);
    MigrationOptions opts;
    opts.zeroCopiedMoments = zeroNewMoments;
    auto migrated = migrateCheckpoint(*before, *model, weightsIn, *temp, opts);
    if (!migrated)
      return fail(set.finalNames(llvm::toString(migrated.takeError())));
    report = *migrated;
  }
  if (failed(set.commit()))
    return 1;
  if (report && !quiet)
    llvm::errs() << "growc: wrote " << weightsOut << ": "
                 << report->weightsWritten << " weights"
                 << (report->weightsZeroed || report->weightsScaled
                         ? " (" + std::to_string(report->weightsZeroed) +
                               " zero-initialised, " +
                               std::to_string(report->weightsScaled) +
                               " scaled)"
                         : std::string())
                 << ", " << report->momentsWritten << " moments copied, "
                 << report->momentsZeroed << " moments zeroed\n";
  if (outputFile == "-") {
    module->print(llvm::outs());
    llvm::outs() << "\n";
  }
  return 0;
}

} // namespace

int main(int argc, char **argv) {
  // LLVM's crash handlers take over SIGXFSZ; a caller that ignores it (a
  // file-size limit then fails writes with EFBIG, like a full disk) gets
  // plain write errors from growc, not a stack dump.
  struct sigaction xfsz = {};
  bool ignoreXfsz =
      ::sigaction(SIGXFSZ, nullptr, &xfsz) == 0 && xfsz.sa_handler == SIG_IGN;
  llvm::InitLLVM init(argc, argv);
  if (ignoreXfsz)
    ::signal(SIGXFSZ, SIG_IGN);
  // Passes first: --mlir-print-ir-after=<pass> names a registered pass.
  registerAllPasses();
  setVersionPrinter("growc", GROWC_VERSION, GROWC_COMMIT);
  registerAsmPrinterCLOptions();
  registerMLIRContextCLOptions();
  registerPassManagerCLOptions();
  registerDefaultTimingManagerCLOptions();
  cl::HideUnrelatedOptions(growCat);
  cl::ParseCommandLineOptions(argc, argv,
                              "growc: grow, analyse and compile depth-growable "
                              "Transformer models\n");
  DialectRegistry registry;
  registerAllDialects(registry);
  MLIRContext context(registry);
  context.loadAllAvailableDialects();
  // Passes' warnings (a head size without a tensor-core attention kernel)
  // reach the user; errors keep MLIR's default reporting.
  ScopedDiagnosticHandler warnings(&context, [](Diagnostic &diag) {
    if (diag.getSeverity() != DiagnosticSeverity::Warning)
      return failure();
    llvm::WithColor::warning(llvm::errs(), "growc") << diag.str() << "\n";
    return success();
  });
  return run(context);
}

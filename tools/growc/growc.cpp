//===- growc.cpp - the growc driver ---------------------------------------===//
//
// growc model.mlir --grow=lidas [--block-size=N] [--grow-steps=K]
//       --emit=mlir -o grown.mlir [--weights-in W --weights-out G]
// growc --import-hf-config config.json -o model.mlir
// growc model.mlir --print-schedule --total-steps=T [--stages=k] ...
//
// Parses or imports a model, runs the growth pipeline (the same passes
// growc-opt exposes), checks the grown model's contract, migrates a
// checkpoint by the provenance table and writes everything atomically.
//
//===----------------------------------------------------------------------===//

#include "growc/Codegen/Codegen.h"
#include "growc/Growth/GrowthPlan.h"
#include "growc/Growth/GrowthSchedule.h"
#include "growc/Growth/InitWeights.h"
#include "growc/Growth/MigrateCheckpoint.h"
#include "growc/Import/HFConfig.h"
#include "growc/InitAll.h"
#include "passes/Gpu/Passes.h"
#include "passes/Growth/Passes.h"

#include "mlir/IR/AsmState.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/DialectRegistry.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/IR/Verifier.h"
#include "mlir/Parser/Parser.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Pass/PassRegistry.h"
#include "mlir/Support/FileUtilities.h"
#include "llvm/ADT/ScopeExit.h"
#include "llvm/Support/CommandLine.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/InitLLVM.h"
#include "llvm/Support/JSON.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/SourceMgr.h"
#include "llvm/Support/ToolOutputFile.h"
#include "llvm/Support/WithColor.h"
#include "llvm/Support/raw_ostream.h"

#include <unistd.h>

using namespace mlir;
using namespace growc;
namespace cl = llvm::cl;
namespace json = llvm::json;

namespace {

cl::OptionCategory growCat("growc options");

cl::opt<std::string> inputFile(cl::Positional, cl::desc("<model.mlir>"),
                               cl::init(""), cl::cat(growCat));
cl::opt<std::string> outputFile("o", cl::desc("Output file ('-' for stdout)"),
                                cl::value_desc("file"), cl::init(""),
                                cl::cat(growCat));
cl::opt<std::string> emit("emit",
                          cl::desc("What to write: 'mlir' (the model after "
                                   "the requested transformations), 'so' "
                                   "(native CPU kernels + plan; the default "
                                   "for -o *.so) or 'ptx' (sm_90 kernels + "
                                   "plan; the default for -o *.ptx)"),
                          cl::init(""), cl::cat(growCat));

// Code generation.
cl::opt<std::string> graph("graph",
                           cl::desc("Graph to compile: forward (default), "
                                    "loss (tokens and targets in, mean "
                                    "cross-entropy out), grad (also "
                                    "grad.<param> for every parameter) or "
                                    "train (one clipped AdamW step)"),
                           cl::init("forward"), cl::cat(growCat));
cl::opt<std::string> target("target",
                            cl::desc("Code generation target: cpu (-o *.so) "
                                     "or nvptx (-o *.ptx)"),
                            cl::init(""), cl::cat(growCat));
cl::opt<std::string> gpuChip("gpu-chip",
                             cl::desc("With -o *.ptx: the GPU (default sm_90)"),
                             cl::init("sm_90"), cl::cat(growCat));
cl::opt<std::string> ptxFeatures("ptx-features",
                                 cl::desc("With -o *.ptx: PTX ISA feature "
                                          "(default +ptx80)"),
                                 cl::init("+ptx80"), cl::cat(growCat));
cl::opt<std::string> libdevice("libdevice",
                               cl::desc("With -o *.ptx: libdevice.10.bc "
                                        "(default: from $CUDA_HOME, "
                                        "$CUDA_PATH or /usr/local/cuda)"),
                               cl::init(""), cl::cat(growCat));
cl::opt<int64_t> threadsPerBlock("gpu-threads",
                                 cl::desc("GPU threads per block of the row "
                                          "kernels (default 256)"),
                                 cl::init(256), cl::cat(growCat));
cl::opt<std::string> kernelForm(
    "kernel-form",
    cl::desc("With -o *.so: 'cpu' (default) or 'gpu', the GPU-shaped "
             "kernels run as loops on the CPU (for checking them)"),
    cl::init("cpu"), cl::cat(growCat));
cl::opt<int64_t> batchSize("batch", cl::desc("Compiled batch size B"),
                           cl::init(1), cl::cat(growCat));
cl::opt<int64_t> seqLength("seq",
                           cl::desc("Compiled sequence length T (default "
                                    "256, at most the model's context); "
                                    "with --print-schedule, the sequence "
                                    "length of the attention FLOPs (default: "
                                    "the context)"),
                           cl::init(256), cl::cat(growCat));
cl::opt<int64_t> keyBlock("key-block",
                          cl::desc("Keys per flash-attention block"),
                          cl::init(64), cl::cat(growCat));
cl::opt<std::string> analysisPasses(
    "analysis-passes",
    cl::desc("Analysis rewrites applied after growth, as a pass pipeline, "
             "e.g. 'growc-skip-layers{layers=3},growc-add-early-exit-heads'"),
    cl::init(""), cl::cat(growCat));

// Import.
cl::opt<std::string> importConfig(
    "import-hf-config",
    cl::desc("Build the model from a Hugging Face LlamaConfig config.json"),
    cl::value_desc("config.json"), cl::init(""), cl::cat(growCat));
cl::opt<int64_t> numLayers("num-layers",
                           cl::desc("With --import-hf-config: override "
                                    "num_hidden_layers (start shallow)"),
                           cl::init(-1), cl::cat(growCat));
cl::opt<std::string> modelName("model-name",
                               cl::desc("With --import-hf-config: the "
                                        "model's symbol name"),
                               cl::init("model"), cl::cat(growCat));
cl::opt<std::string> paramDType("param-dtype",
                                cl::desc("With --import-hf-config: parameter "
                                         "dtype f32 | bf16 | f16"),
                                cl::init("f32"), cl::cat(growCat));

// Growth.
cl::opt<std::string> growMethod("grow",
                                cl::desc("Growth operator: midas | lidas | "
                                         "gradstack"),
                                cl::init(""), cl::cat(growCat));
cl::opt<int64_t> blockSize("block-size",
                           cl::desc("Layers per block (default: the model's; "
                                    "with --import-hf-config 4, 2 or 1)"),
                           cl::init(0), cl::cat(growCat));
cl::opt<int64_t> growSteps("grow-steps",
                           cl::desc("Apply the growth operator K times"),
                           cl::init(1), cl::cat(growCat));
cl::opt<std::string> lidasOdd("lidas-odd",
                              cl::desc("LIDAS with an odd block count: midas "
                                       "(copy the central block, default) | "
                                       "centred"),
                              cl::init("midas"), cl::cat(growCat));
cl::opt<bool> printLineage("print-lineage",
                           cl::desc("Print each layer's source layer in the "
                                    "input model (* marks copies)"),
                           cl::init(false), cl::cat(growCat));
cl::opt<bool> quiet("quiet", cl::desc("Do not describe the growth steps"),
                    cl::init(false), cl::cat(growCat));

// Checkpoints.
cl::opt<std::string> weightsIn("weights-in",
                               cl::desc("Checkpoint of the input model "
                                        "(safetensors)"),
                               cl::init(""), cl::cat(growCat));
cl::opt<std::string> weightsOut("weights-out",
                                cl::desc("Write the grown model's checkpoint "
                                         "here"),
                                cl::init(""), cl::cat(growCat));
cl::opt<std::string> initWeightsOut(
    "init-weights-out",
    cl::desc("Write freshly initialised weights of the input model (before "
             "growth): N(0, 0.02) matrices, unit norms"),
    cl::init(""), cl::cat(growCat));
cl::opt<uint64_t> seed("seed", cl::desc("Seed for --init-weights-out"),
                       cl::init(0), cl::cat(growCat));
cl::opt<bool> zeroNewMoments("zero-new-moments",
                             cl::desc("Zero the AdamW moments of inserted "
                                      "copies (default: copy the source's)"),
                             cl::init(false), cl::cat(growCat));

// Schedule.
cl::opt<bool> printSchedule("print-schedule",
                            cl::desc("Print the Prop-alpha growth schedule"),
                            cl::init(false), cl::cat(growCat));
cl::opt<int64_t> totalSteps("total-steps",
                            cl::desc("Schedule: training budget in steps"),
                            cl::init(0), cl::cat(growCat));
cl::opt<int64_t> stages("stages",
                        cl::desc("Schedule: number of stages (default: the "
                                 "model's block count)"),
                        cl::init(0), cl::cat(growCat));
cl::opt<double> alpha("alpha", cl::desc("Schedule: Prop-alpha exponent"),
                      cl::init(1.0), cl::cat(growCat));
cl::opt<double> growFraction("grow-fraction",
                             cl::desc("Schedule: fraction of steps spent "
                                      "growing"),
                             cl::init(0.8), cl::cat(growCat));
cl::opt<int64_t> startBlocks("start-blocks",
                             cl::desc("Schedule: blocks in stage 1"),
                             cl::init(1), cl::cat(growCat));
int fail(const llvm::Twine &message) {
  llvm::WithColor::error(llvm::errs(), "growc") << message << "\n";
  return 1;
}

/// The single grow.model of `module`, or a diagnostic.
FailureOr<grow::ModelOp> findModel(ModuleOp module) {
  auto models = llvm::to_vector(module.getOps<grow::ModelOp>());
  if (models.size() != 1) {
    module.emitError("expected exactly one grow.model, found ")
        << models.size();
    return failure();
  }
  return models.front();
}

/// "lineage: 0 1 2 3 2* 3* ..." from the layer parameters' provenance.
std::string formatLineage(grow::ModelOp model) {
  std::string out = "lineage:";
  for (grow::LayerOp layer : model.getLayers()) {
    grow::ParamOp q =
        model.lookupParam(layer.getParamName("self_attn.q_proj.weight"));
    StringRef source = q.getSource() ? *q.getSource() : q.getSymName();
    auto parsed = grow::parseLayerParamName(source);
    out += " " + (parsed ? std::to_string(parsed->first) : source.str());
    if (q.getCopy())
      out += "*";
  }
  return out;
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
  if (!schedule)
    return fail(llvm::toString(schedule.takeError()));
  llvm::outs() << schedule->format(model ? &flops : nullptr);
  return 0;
}

/// Describes the growth steps the pipeline will apply, from the same plans.
LogicalResult describeGrowth(grow::ModelOp model, GrowthMethod method,
                             LidasOddPolicy policy) {
  int64_t layers = model.getLayers().size();
  int64_t b = blockSize ? blockSize : model.getConfig().getBlockSize();
  for (int64_t i = 0; i < growSteps; ++i) {
    auto step = planGrowthStep(method, layers, b, policy);
    if (!step) {
      fail(llvm::toString(step.takeError()));
      return failure();
    }
    if (!quiet)
      llvm::errs() << "growc: step " << i + 1 << "/" << growSteps << ": "
                   << step->describe() << "\n";
    layers = step->layers.size();
  }
  return success();
}

/// Writes `text` to `path` atomically (temporary file, then rename).
llvm::Error
writeAtomically(StringRef path,
                llvm::function_ref<void(llvm::raw_ostream &)> fill) {
  return llvm::writeToOutput(path, [&](llvm::raw_ostream &os) -> llvm::Error {
    fill(os);
    return llvm::Error::success();
  });
}

/// Compiles the (grown, rewritten) model to kernels and the plan: `-o
/// fwd.so` writes native CPU kernels, `-o fwd.ptx` PTX for sm_90, each with
/// fwd.plan.json next to it. Files appear whole or not at all.
int compileArtifact(MLIRContext &context, ModuleOp module, bool ptx) {
  if (!weightsIn.empty())
    return fail("--weights-in/--weights-out migrate checkpoints with "
                "--emit=mlir; compile the grown model.mlir separately");
  bool gpuKernels = ptx || kernelForm == "gpu";
  OwningOpRef<ModuleOp> compiled = module.clone();
  CodegenOptions options;
  options.target = gpuKernels ? CodegenTarget::Nvptx : CodegenTarget::Cpu;
  options.batch = batchSize;
  options.seq = seqLength;
  options.keyBlock = keyBlock;
  options.graph = graph;
  PassManager pm(&context);
  buildBufferizedForwardPipeline(pm, options);
  if (failed(pm.run(*compiled)))
    return 1;
  llvm::SmallString<128> planPath(outputFile);
  llvm::sys::path::replace_extension(planPath, ".plan.json");
  auto plan = emitPlan(*compiled, ptx ? "nvptx" : "cpu",
                       llvm::sys::path::filename(outputFile));
  if (!plan)
    return fail(llvm::toString(plan.takeError()));
  // Blocks for both targets: rows (and attention tiles) are what the GPU's
  // blocks and the CPU runtime's threads share out; a CPU block is one
  // thread wide.
  {
    PassManager distribute(&context);
    distribute.addPass(
        createDistributeKernels({gpuKernels ? threadsPerBlock.getValue() : 1,
                                 /*keepOtherKernels=*/!gpuKernels}));
    if (failed(distribute.run(*compiled)))
      return 1;
  }
  if (ptx) {
    PtxOptions ptxOptions;
    ptxOptions.chip = gpuChip;
    ptxOptions.features = ptxFeatures;
    ptxOptions.libdevicePath = libdevice;
    auto artifact = compileKernelsToPtx(*compiled, ptxOptions);
    if (!artifact)
      return fail(llvm::toString(artifact.takeError()));
    // The plan's kernels gain their launch configuration.
    for (json::Value &entry : *plan->getArray("kernels")) {
      json::Object &kernel = *entry.getAsObject();
      StringRef name = *kernel.getString("name");
      auto launch = llvm::find_if(artifact->launches, [&](const GpuLaunch &l) {
        return l.name == name;
      });
      if (launch == artifact->launches.end())
        return fail("kernel '" + name + "' has no GPU launch");
      kernel["symbol"] = name;
      kernel["launch"] = json::Object{
          {"grid",
           json::Array{launch->grid[0], launch->grid[1], launch->grid[2]}},
          {"block",
           json::Array{launch->block[0], launch->block[1], launch->block[2]}},
          {"params", json::Array(launch->params)}};
    }
    if (llvm::Error err = writeAtomically(
            outputFile, [&](llvm::raw_ostream &os) { os << artifact->ptx; }))
      return fail("cannot write '" + outputFile +
                  "': " + llvm::toString(std::move(err)));
  } else {
    auto blocks = lowerKernelsToLLVM(*compiled);
    if (failed(blocks))
      return 1;
    // The plan's kernels gain their block counts (the runtime's unit of
    // splitting a kernel over threads).
    for (json::Value &entry : *plan->getArray("kernels")) {
      json::Object &kernel = *entry.getAsObject();
      auto it = blocks->find(*kernel.getString("name"));
      if (it == blocks->end())
        return fail("kernel '" + *kernel.getString("name") +
                    "' has no block count");
      kernel["blocks"] = it->second;
    }
    if (llvm::Error err = writeCpuSharedObject(*compiled, outputFile))
      return fail(llvm::toString(std::move(err)));
  }
  if (llvm::Error err = writeAtomically(planPath, [&](llvm::raw_ostream &os) {
        os << llvm::formatv("{0:2}", json::Value(std::move(*plan))) << "\n";
      })) {
    llvm::sys::fs::remove(outputFile);
    return fail("cannot write '" + planPath +
                "': " + llvm::toString(std::move(err)));
  }
  return 0;
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
  if (threadsPerBlock < 1 || threadsPerBlock > 1024)
    return fail("--gpu-threads must be in [1, 1024]");
  if (graph != "forward" && graph != "loss" && graph != "grad" &&
      graph != "train")
    return fail("--graph=" + graph +
                " is not available; this build compiles the forward graph "
                "(--graph=forward), the loss (--graph=loss), the gradients "
                "(--graph=grad) and the training step (--graph=train)");
  if (graph != "forward" && emit == "ptx")
    return fail("--graph=" + graph +
                " compiles for the CPU in this build (-o model.so): its "
                "reductions over all rows are not distributed for the GPU "
                "yet");
  if (outputFile != "-" && !outputFile.empty() && emit == "mlir" &&
      outExt != ".mlir" && !emit.getNumOccurrences())
    return fail("cannot infer what to write to '" + outputFile +
                "': use --emit=mlir, -o *.so or -o *.ptx");
  if (batchSize < 1 || seqLength < 1 || keyBlock < 1)
    return fail("--batch, --seq and --key-block must be positive");
  if (weightsIn.empty() != weightsOut.empty())
    return fail("--weights-in and --weights-out go together");
  if (growSteps < 0)
    return fail("--grow-steps must be non-negative");

  // Load or import the model.
  OwningOpRef<ModuleOp> module;
  if (!importConfig.empty()) {
    auto text = llvm::MemoryBuffer::getFile(importConfig, /*IsText=*/true);
    if (!text)
      return fail("cannot read '" + importConfig +
                  "': " + text.getError().message());
    ImportOptions opts;
    if (numLayers >= 0)
      opts.numLayers = numLayers;
    if (blockSize)
      opts.blockSize = blockSize;
    opts.modelName = modelName;
    opts.paramDType = paramDType;
    auto imported = importHFConfig(&context, (*text)->getBuffer(), opts);
    if (!imported)
      return fail(importConfig + ": " + llvm::toString(imported.takeError()));
    for (const std::string &note : imported->notes)
      llvm::WithColor::note(llvm::errs(), "growc")
          << importConfig << ": " << note << "\n";
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
    if (llvm::Error err = writeInitialWeights(*model, initWeightsOut, opts))
      return fail(llvm::toString(std::move(err)));
  }

  // Grow.
  // The input is the base of this growth: provenance left by an earlier
  // growth names *its* input, not this checkpoint's tensors, so it is reset.
  for (grow::ParamOp param : model->getParams()) {
    param.removeSourceAttr();
    param.removeCopyAttr();
  }
  OwningOpRef<ModuleOp> original = module->clone();
  if (!growMethod.empty()) {
    std::optional<GrowthMethod> method = parseGrowthMethod(growMethod);
    if (!method)
      return fail("--grow must be midas, lidas or gradstack, got '" +
                  growMethod + "'");
    std::optional<LidasOddPolicy> policy = parseLidasOddPolicy(lidasOdd);
    if (!policy)
      return fail("--lidas-odd must be midas or centred, got '" + lidasOdd +
                  "'");
    if (failed(describeGrowth(*model, *method, *policy)))
      return 1;
    int64_t layersBefore = model->getLayers().size();
    PassManager pm(&context);
    switch (*method) {
    case GrowthMethod::Midas:
      pm.addPass(createDuplicateMiddleBlock({blockSize, growSteps}));
      break;
    case GrowthMethod::Lidas:
      pm.addPass(createSpliceMiddleLayers({blockSize, growSteps, lidasOdd}));
      break;
    case GrowthMethod::GradStack:
      pm.addPass(createAppendLastBlock({blockSize, growSteps}));
      break;
    }
    pm.addPass(createVerifyGrownModel({layersBefore}));
    if (failed(pm.run(*module)))
      return 1;
    model = findModel(*module);
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
  if (emit == "so" || emit == "ptx")
    return compileArtifact(context, *module, emit == "ptx");

  // Both outputs appear or neither: the IR goes to a temporary file first,
  // the checkpoint is migrated (atomically, after all its checks), and only
  // then is the IR renamed into place.
  std::string irTemp;
  if (!outputFile.empty() && outputFile != "-") {
    irTemp = outputFile + ".tmp." + std::to_string(::getpid());
    if (llvm::Error err = llvm::writeToOutput(
            irTemp, [&](llvm::raw_ostream &os) -> llvm::Error {
              module->print(os);
              return llvm::Error::success();
            }))
      return fail("cannot write '" + outputFile +
                  "': " + llvm::toString(std::move(err)));
  }
  llvm::scope_exit discardTemp([&] {
    if (!irTemp.empty())
      llvm::sys::fs::remove(irTemp);
  });

  if (!weightsIn.empty()) {
    auto before = findModel(*original);
    MigrationOptions opts;
    opts.zeroCopiedMoments = zeroNewMoments;
    auto report =
        migrateCheckpoint(*before, *model, weightsIn, weightsOut, opts);
    if (!report)
      return fail(llvm::toString(report.takeError()));
    if (!quiet)
      llvm::errs() << "growc: wrote " << weightsOut << ": "
                   << report->weightsWritten << " weights, "
                   << report->momentsWritten << " moments copied, "
                   << report->momentsZeroed << " moments zeroed\n";
  }

  if (outputFile == "-") {
    module->print(llvm::outs());
    llvm::outs() << "\n";
  } else if (!irTemp.empty()) {
    if (std::error_code ec = llvm::sys::fs::rename(irTemp, outputFile)) {
      if (!weightsOut.empty())
        llvm::sys::fs::remove(weightsOut);
      return fail("cannot write '" + outputFile + "': " + ec.message());
    }
    irTemp.clear();
  }
  return 0;
}

} // namespace

int main(int argc, char **argv) {
  llvm::InitLLVM init(argc, argv);
  registerAsmPrinterCLOptions();
  registerMLIRContextCLOptions();
  cl::HideUnrelatedOptions(growCat);
  cl::ParseCommandLineOptions(argc, argv,
                              "growc: grow, analyse and compile depth-growable "
                              "Transformer models\n");
  DialectRegistry registry;
  registerAllDialects(registry);
  registerAllPasses();
  MLIRContext context(registry);
  context.loadAllAvailableDialects();
  return run(context);
}

//===- growc.cpp - the growc driver ---------------------------------------===//
//
// growc model.mlir --grow=lidas [--block-size=N] [--grow-steps=K]
//       --emit=mlir -o grown.mlir [--weights-in W --weights-out G]
// growc --import-hf-config config.json -o model.mlir
// growc model.mlir --print-schedule --total-steps=T [--stages=k] ...
// growc model.mlir [--grow=lidas] -o train.ptx|train.so  (--graph=train,
//       the default; --graph=forward|loss|grad choose another graph)
//
// Parses or imports a model, runs the growth pipeline (the same passes
// growc-opt exposes), checks the grown model's contract, migrates a
// checkpoint by the provenance table, compiles a graph to kernels and a
// plan, and writes everything atomically.
//
//===----------------------------------------------------------------------===//

#include "AnalysisSuite.h"
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
                           cl::desc("Graph to compile: train (default: one "
                                    "clipped AdamW step), forward (the "
                                    "model's outputs), loss (tokens and "
                                    "targets in, mean cross-entropy out) or "
                                    "grad (also grad.<param> for every "
                                    "parameter)"),
                           cl::init("train"), cl::cat(growCat));
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
cl::opt<std::string> gpuAttention(
    "gpu-attention",
    cl::desc("The GPU form of attention: 'mma' (the kernel library's "
             "tensor-core FlashAttention-2 for attention and its gradient, "
             "head sizes 16, 32 and 64, bf16 inside; "
             "growc-attention-to-tensor-cores), 'flash' (distributed "
             "flash-style kernels on the CUDA cores, fp32, the T x T scores "
             "never stored) or 'gemm' (per-(sample, KV head) GEMMs and row "
             "kernels, the scores stored; growc-attention-to-gemms). Default: "
             "mma with --precision=bf16 (flash for head sizes it has no "
             "kernel for), flash with --precision=fp32"),
    cl::init(""), cl::cat(growCat));
cl::opt<std::string> precision(
    "precision",
    cl::desc("Storage precision of GEMM operands and activations: bf16 "
             "(fp32 compute and accumulation, fp32 master weights and "
             "AdamW moments; the default for -o *.ptx, every graph) or "
             "fp32 (for checking; the CPU target is fp32, --kernel-form=gpu "
             "runs bf16 GPU kernels on the CPU for checking them)"),
    cl::init(""), cl::cat(growCat));
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
cl::opt<int64_t> accumulate(
    "accumulate",
    cl::desc("With --graph=train: micro-batches per optimizer step "
             "(gradient accumulation; growc-run train runs N micro-batches "
             "of the compiled batch per step)"),
    cl::init(1), cl::cat(growCat));
cl::opt<int64_t> vocabChunk(
    "vocab-chunk",
    cl::desc("Vocabulary rows per cross-entropy chunk of the loss, grad and "
             "train graphs (default 0: automatic, the whole vocabulary when "
             "its fp32 logits fit in 256 MiB, else chunks of <= 64 MiB)"),
    cl::init(CodegenOptions().vocabChunk), cl::cat(growCat));
cl::opt<double> allReduceBucketMb(
    "all-reduce-bucket-mb",
    cl::desc("With --graph=train: MiB of gradients per all_reduce step of "
             "data-parallel training (default 25, PyTorch DDP's; each "
             "bucket is reduced as soon as its last gradient is complete)"),
    cl::init(25.0), cl::cat(growCat));
cl::opt<std::string> analysisPasses(
    "analysis-passes",
    cl::desc("Analysis rewrites applied after growth, as a pass pipeline, "
             "e.g. 'growc-skip-layers{layers=3},growc-add-early-exit-heads'"),
    cl::init(""), cl::cat(growCat));

cl::opt<bool> analysisSuite(
    "analysis-suite",
    cl::desc("With -o suite.so: compile every forward graph growc-run "
             "analyze needs (clean + early-exit heads, skip-until-t, skips, "
             "window swaps and reversals) into one kernels file, a plan per "
             "graph and suite.analysis.json (docs/analysis.md)"),
    cl::init(false), cl::cat(growCat));
cl::opt<int64_t> analysisSplit(
    "analysis-split",
    cl::desc("With --analysis-suite: the depth score's split position t "
             "(skip before t, measure from t on; default seq/2)"),
    cl::init(-1), cl::cat(growCat));
cl::list<int64_t> analysisSwapWindows(
    "analysis-swap-windows",
    cl::desc("With --analysis-suite: block-swap window sizes (default "
             "1,2,4,8; 0 = the unmodified model)"),
    cl::CommaSeparated, cl::cat(growCat));
cl::list<int64_t> analysisReverseWindows(
    "analysis-reverse-windows",
    cl::desc("With --analysis-suite: window-reverse sizes (default 2,4,8)"),
    cl::CommaSeparated, cl::cat(growCat));

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
                                 "model's block count). With --grow and "
                                 "-o run.so/.ptx: compile a growth run of K "
                                 "stages (the input grown 0..K-1 times) for "
                                 "growc-run train"),
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
  if (!schedule.isOk())
    return fail(schedule.status().message());
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

/// A compiled graph before its kernels are written: the plan and the
/// module holding the kernels, distributed for their target.
struct CompiledGraph {
  json::Object plan;
  OwningOpRef<ModuleOp> kernels;
};

/// Lowers the (grown, rewritten) model to its plan and kernels; the plan
/// names `kernelsFile` as its kernels file.
FailureOr<CompiledGraph> compileGraph(MLIRContext &context, ModuleOp module,
                                      bool ptx, StringRef kernelsFile) {
  bool gpuKernels = ptx || kernelForm == "gpu";
  CompiledGraph out;
  out.kernels = module.clone();
  CodegenOptions options;
  options.target = gpuKernels ? CodegenTarget::Nvptx : CodegenTarget::Cpu;
  options.batch = batchSize;
  options.seq = seqLength;
  options.keyBlock = keyBlock;
  options.graph = graph;
  options.vocabChunk = vocabChunk;
  options.accumulate = accumulate;
  options.precision = precision;
  options.gpuAttention = gpuAttention;
  PassManager pm(&context);
  buildBufferizedForwardPipeline(pm, options);
  // Blocks for both targets: rows (and attention tiles) are what the GPU's
  // blocks and the CPU runtime's threads share out; a CPU block is one
  // thread wide. Before the plan: a kernel the GPU runs in more than one
  // launch adds kernels and scratch buffers to the host function.
  pm.addPass(
      createDistributeKernels({gpuKernels ? threadsPerBlock.getValue() : 1,
                               /*keepOtherKernels=*/!gpuKernels}));
  if (failed(pm.run(*out.kernels)))
    return failure();
  auto plan = emitPlan(*out.kernels, ptx ? "nvptx" : "cpu", kernelsFile,
                       int64_t(allReduceBucketMb * 1024 * 1024));
  if (!plan) {
    fail(llvm::toString(plan.takeError()));
    return failure();
  }
  out.plan = std::move(*plan);
  return out;
}

/// Each kernel function of `kernels` printed: two graphs whose kernels
/// print alike share one kernels file.
llvm::StringMap<std::string> kernelFingerprints(ModuleOp kernels) {
  llvm::StringMap<std::string> prints;
  for (auto func : kernels.getOps<func::FuncOp>()) {
    std::string text;
    llvm::raw_string_ostream os(text);
    func.print(os);
    prints[func.getSymName()] = std::move(text);
  }
  return prints;
}

/// Compiles the kernels of `graph` into `kernelsPath` (written atomically)
/// and completes the plan's kernel entries: block counts on the CPU, the
/// launch configuration for PTX.
int writeKernels(CompiledGraph &graph, bool ptx, StringRef kernelsPath) {
  if (ptx) {
    PtxOptions ptxOptions;
    ptxOptions.chip = gpuChip;
    ptxOptions.features = ptxFeatures;
    ptxOptions.libdevicePath = libdevice;
    auto artifact = compileKernelsToPtx(*graph.kernels, ptxOptions);
    if (!artifact)
      return fail(llvm::toString(artifact.takeError()));
    // The plan's kernels gain their launch configuration.
    for (json::Value &entry : *graph.plan.getArray("kernels")) {
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
      if (!launch->kind.empty())
        kernel["kind"] = launch->kind;
      if (launch->dynamicSharedBytes > 0)
        (*kernel.getObject("launch"))["shared_bytes"] =
            launch->dynamicSharedBytes;
    }
    // Attention steps launch the kernel library's entry points, which the
    // artifact carries.
    bool usesLibrary = llvm::any_of(
        *graph.plan.getArray("steps"), [](const json::Value &step) {
          std::optional<StringRef> op = step.getAsObject()->getString("op");
          return op == "attention" || op == "attention_grad";
        });
    if (usesLibrary)
      if (llvm::Error err = linkKernelLibrary(artifact->ptx))
        return fail(llvm::toString(std::move(err)));
    if (llvm::Error err = writeAtomically(
            kernelsPath, [&](llvm::raw_ostream &os) { os << artifact->ptx; }))
      return fail("cannot write '" + kernelsPath +
                  "': " + llvm::toString(std::move(err)));
    return 0;
  }
  auto blocks = lowerKernelsToLLVM(*graph.kernels);
  if (failed(blocks))
    return 1;
  // The plan's kernels gain their block counts (the runtime's unit of
  // splitting a kernel over threads).
  for (json::Value &entry : *graph.plan.getArray("kernels")) {
    json::Object &kernel = *entry.getAsObject();
    auto it = blocks->find(*kernel.getString("name"));
    if (it == blocks->end())
      return fail("kernel '" + *kernel.getString("name") +
                  "' has no block count");
    kernel["blocks"] = it->second;
  }
  if (llvm::Error err = writeCpuSharedObject(*graph.kernels, kernelsPath))
    return fail(llvm::toString(std::move(err)));
  return 0;
}

int writePlan(StringRef path, json::Object plan) {
  if (llvm::Error err = writeAtomically(path, [&](llvm::raw_ostream &os) {
        os << llvm::formatv("{0:2}", json::Value(std::move(plan))) << "\n";
      }))
    return fail("cannot write '" + path +
                "': " + llvm::toString(std::move(err)));
  return 0;
}

std::string planPathOf(StringRef kernelsPath) {
  llvm::SmallString<128> planPath(kernelsPath);
  llvm::sys::path::replace_extension(planPath, ".plan.json");
  return std::string(planPath);
}

/// Compiles the (grown, rewritten) model to kernels and the plan: `-o
/// fwd.so` writes native CPU kernels, `-o fwd.ptx` PTX for sm_90, each with
/// fwd.plan.json next to it. Files appear whole or not at all.
int compileArtifact(MLIRContext &context, ModuleOp module, bool ptx) {
  if (!weightsIn.empty())
    return fail("--weights-in/--weights-out migrate checkpoints with "
                "--emit=mlir; compile the grown model.mlir separately");
  auto compiled =
      compileGraph(context, module, ptx, llvm::sys::path::filename(outputFile));
  if (failed(compiled))
    return 1;
  if (int rc = writeKernels(*compiled, ptx, outputFile))
    return rc;
  if (int rc = writePlan(planPathOf(outputFile), std::move(compiled->plan))) {
    llvm::sys::fs::remove(outputFile);
    return rc;
  }
  return 0;
}

/// Clears the provenance of `model`'s parameters: the model becomes the
/// base that the next growth step's table refers to.
void resetProvenance(grow::ModelOp model) {
  for (grow::ParamOp param : model.getParams()) {
    param.removeSourceAttr();
    param.removeCopyAttr();
  }
}

/// Applies the growth operator `steps` times and verifies the result.
LogicalResult growModel(MLIRContext &context, ModuleOp module,
                        GrowthMethod method, int64_t steps) {
  FailureOr<grow::ModelOp> model = findModel(module);
  if (failed(model))
    return failure();
  int64_t layersBefore = model->getLayers().size();
  PassManager pm(&context);
  switch (method) {
  case GrowthMethod::Midas:
    pm.addPass(createDuplicateMiddleBlock({blockSize, steps}));
    break;
  case GrowthMethod::Lidas:
    pm.addPass(createSpliceMiddleLayers({blockSize, steps, lidasOdd}));
    break;
  case GrowthMethod::GradStack:
    pm.addPass(createAppendLastBlock({blockSize, steps}));
    break;
  }
  pm.addPass(createVerifyGrownModel({layersBefore}));
  return pm.run(module);
}

/// `growc start.mlir --grow=M --stages=K -o run.so`: the K stages of a
/// growth run, stage i being the input grown i-1 times. Stage 1 is an
/// ordinary artifact (run.so, run.plan.json) whose plan lists the stages;
/// stage i's plan (run.stage<i>.plan.json) has its parameters' provenance
/// in stage i-1's model, which is how growc-run migrates a live run. Kernels
/// are compiled once: a stage whose kernels print exactly like stage 1's
/// (the usual case: repeated layers repeat the same shapes) uses run.so.
int compileGrowthRun(MLIRContext &context, ModuleOp start, bool ptx,
                     GrowthMethod method) {
  if (!weightsIn.empty())
    return fail("--stages compiles a growth run; growc-run train migrates "
                "its weights and moments at each stage boundary, so "
                "--weights-in/--weights-out do not apply");
  if (growSteps.getNumOccurrences())
    return fail("--stages=K compiles stages grown 0..K-1 times; drop "
                "--grow-steps");
  if (stages < 1 || stages > 64)
    return fail("--stages must be in [1, 64] for a growth run");
  FailureOr<grow::ModelOp> startModel = findModel(start);
  if (failed(startModel))
    return 1;
  int64_t b = blockSize ? blockSize : startModel->getConfig().getBlockSize();
  std::string base = std::string(outputFile);
  StringRef ext = llvm::sys::path::extension(outputFile);
  std::string stem = base.substr(0, base.size() - ext.size());
  std::string kernelsName = std::string(llvm::sys::path::filename(outputFile));

  std::vector<std::string> written;
  llvm::scope_exit removeWritten([&] {
    for (const std::string &path : written)
      llvm::sys::fs::remove(path);
  });
  OwningOpRef<ModuleOp> module = start.clone();
  resetProvenance(*findModel(*module));
  json::Array stageList;
  llvm::StringMap<std::string> sharedKernels;
  json::Array sharedKernelEntries;
  std::optional<json::Object> firstPlan;
  for (int64_t i = 1; i <= stages; ++i) {
    if (i > 1) {
      resetProvenance(*findModel(*module));
      if (failed(growModel(context, *module, method, 1)))
        return 1;
    }
    int64_t layers = findModel(*module)->getLayers().size();
    std::string planPath =
        i == 1 ? planPathOf(outputFile)
               : stem + ".stage" + std::to_string(i) + ".plan.json";
    stageList.push_back(json::Object{
        {"stage", i},
        {"layers", layers},
        {"plan", std::string(llvm::sys::path::filename(planPath))}});
    auto compiled = compileGraph(context, *module, ptx, kernelsName);
    if (failed(compiled))
      return 1;
    llvm::StringMap<std::string> prints =
        kernelFingerprints(*compiled->kernels);
    bool shared =
        i > 1 && llvm::all_of(prints, [&](const auto &entry) {
          auto it = sharedKernels.find(entry.getKey());
          return it != sharedKernels.end() && it->second == entry.getValue();
        });
    if (i == 1) {
      sharedKernels = std::move(prints);
      if (int rc = writeKernels(*compiled, ptx, outputFile))
        return rc;
      written.push_back(std::string(outputFile));
      sharedKernelEntries = *compiled->plan.getArray("kernels");
    } else if (shared) {
      // Same kernels: take stage 1's entries (block counts, launches).
      for (json::Value &entry : *compiled->plan.getArray("kernels")) {
        json::Object &kernel = *entry.getAsObject();
        for (const json::Value &known : sharedKernelEntries)
          if (known.getAsObject()->getString("name") ==
              kernel.getString("name"))
            kernel = *known.getAsObject();
      }
    } else {
      std::string ownKernels = stem + ".stage" + std::to_string(i) + ext.str();
      compiled->plan["kernels_file"] =
          std::string(llvm::sys::path::filename(ownKernels));
      if (int rc = writeKernels(*compiled, ptx, ownKernels))
        return rc;
      written.push_back(ownKernels);
    }
    if (!quiet)
      llvm::errs() << llvm::formatv(
          "growc: stage {0}/{1}: {2} layers, {3}\n", i, stages.getValue(),
          layers,
          i == 1   ? "kernels compiled"
          : shared ? "kernels shared with stage 1 (none recompiled)"
                   : "kernels of its own");
    if (i == 1) {
      firstPlan = std::move(compiled->plan);
      continue;
    }
    if (int rc = writePlan(planPath, std::move(compiled->plan)))
      return rc;
    written.push_back(planPath);
  }
  (*firstPlan)["growth"] = json::Object{{"method", growMethod.getValue()},
                                        {"block_size", b},
                                        {"stages", std::move(stageList)}};
  if (int rc = writePlan(planPathOf(outputFile), std::move(*firstPlan)))
    return rc;
  removeWritten.release();
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
  if (vocabChunk < 0)
    return fail("--vocab-chunk must be non-negative (0: automatic)");
  if (!(allReduceBucketMb > 0) || allReduceBucketMb > 1e6)
    return fail("--all-reduce-bucket-mb must be in (0, 1e6]");
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
  resetProvenance(*model);
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
    if (stages.getNumOccurrences() && (emit == "so" || emit == "ptx")) {
      if (!analysisPasses.empty())
        return fail("--analysis-passes apply to one model, not to the "
                    "stages of a growth run (--stages)");
      return compileGrowthRun(context, *module, emit == "ptx", *method);
    }
    if (failed(describeGrowth(*model, *method, *policy)))
      return 1;
    if (failed(growModel(context, *module, *method, growSteps)))
      return 1;
    model = findModel(*module);
  }
  if (analysisSuite) {
    if (emit != "so" && emit != "ptx")
      return fail("--analysis-suite compiles artifacts: -o suite.so");
    if ((graph.getNumOccurrences() && graph != "forward") ||
        !analysisPasses.empty())
      return fail("--analysis-suite builds its own forward graphs; drop "
                  "--graph and --analysis-passes");
    graph = "forward";
    AnalysisSuiteOptions opts;
    opts.split = analysisSplit;
    if (!analysisSwapWindows.empty())
      opts.swapWindows.assign(analysisSwapWindows.begin(),
                              analysisSwapWindows.end());
    if (!analysisReverseWindows.empty())
      opts.reverseWindows.assign(analysisReverseWindows.begin(),
                                 analysisReverseWindows.end());
    opts.batch = batchSize;
    opts.seq = seqLength;
    opts.quiet = quiet;
    bool ptx = emit == "ptx";
    auto compile = [&](ModuleOp m,
                       StringRef kernelsFile) -> FailureOr<SuiteGraph> {
      FailureOr<CompiledGraph> compiled =
          compileGraph(context, m, ptx, kernelsFile);
      if (failed(compiled))
        return failure();
      return SuiteGraph{std::move(compiled->plan),
                        std::move(compiled->kernels)};
    };
    auto kernels = [&](SuiteGraph &g, StringRef path) {
      CompiledGraph compiled{std::move(g.plan), std::move(g.kernels)};
      int rc = writeKernels(compiled, ptx, path);
      g.plan = std::move(compiled.plan);
      return rc;
    };
    return compileAnalysisSuite(context, *module, outputFile, opts,
                                {compile, kernels, writePlan});
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

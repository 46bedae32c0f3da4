//===- Options.cpp - growc's command-line options -------------------------===//
//
// Every option of the growc driver with its help text (`growc --help`).
// growc.cpp checks their combinations and runs the driver library.
//
//===----------------------------------------------------------------------===//

#include "Options.h"

#include <cstdint>

namespace cl = llvm::cl;

namespace growc::opts {

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
                                          "(default +ptx81)"),
                                 cl::init("+ptx81"), cl::cat(growCat));
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
cl::opt<std::string> trainable(
    "trainable",
    cl::desc("With --graph=train or grad: the parameters the step updates; "
             "the others are frozen (no gradient, no AdamW moments, no "
             "update). 'all' (default), 'inserted' (what growth inserted: "
             "--grow in the same command, or a grown model.mlir with its "
             "provenance), or a comma list of layers N, half-open ranges "
             "A:B, embed, norm, lm_head (docs/training.md)"),
    cl::init("all"), cl::cat(growCat));
cl::opt<int64_t> lossRows(
    "loss-rows",
    cl::desc("Token rows per cross-entropy block of the loss, grad and train "
             "graphs (default 0: automatic, blocks whose fp32 logits fit in "
             "256 MiB: the whole batch when its logits do)"),
    cl::init(0), cl::cat(growCat));
cl::opt<bool> fuseProjections(
    "fuse-projections",
    cl::desc("Compute each layer's q|k|v and gate|up projections as one GEMM "
             "each over the weights' rows back to back in one buffer, and "
             "their gradients likewise (default true; always off with "
             "--accumulate > 1)"),
    cl::init(true), cl::cat(growCat));
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
             "graph and suite.so.analysis.json (docs/analysis.md)"),
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
cl::opt<std::string> analysisLensAt(
    "analysis-lens-at",
    cl::desc("With --analysis-suite: the logit lens of layer l decodes its "
             "input h_l ('input', Csordás et al.'s index; default) or its "
             "output h_{l+1} ('output')"),
    cl::init("input"), cl::cat(growCat));
cl::opt<bool> analysisSkipPosition0(
    "analysis-skip-position-0",
    cl::desc("With --analysis-suite: the depth score's skipped layer is the "
             "identity at position 0 too (before issue 17; by default "
             "position 0, the attention sink, keeps the layer as in Csordas "
             "et al.'s code)"),
    cl::init(false), cl::cat(growCat));
cl::list<int64_t> analysisReverseWindows(
    "analysis-reverse-windows",
    cl::desc("With --analysis-suite: window-reverse sizes (default 2,4,8)"),
    cl::CommaSeparated, cl::cat(growCat));

// Import.
cl::opt<std::string> importConfig(
    "import-hf-config",
    cl::desc("Build the model from a Hugging Face LlamaConfig config.json "
             "(or a model folder holding one)"),
    cl::value_desc("config.json|dir"), cl::init(""), cl::cat(growCat));
cl::list<std::string> ignoreConfigFields(
    "ignore-config-field",
    cl::desc("With --import-hf-config: accept these unknown config fields "
             "(you vouch that they do not change the model)"),
    cl::value_desc("name"), cl::CommaSeparated, cl::cat(growCat));
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
cl::opt<std::string> growMethod(
    "grow",
    cl::desc("Growth operator: midas | lidas | gradstack (growth steps), or a "
             "one-shot recipe for a pretrained model: block-expansion | "
             "depth-upscale | layers | gstack (docs/pretrained-growth.md)"),
    cl::init(""), cl::cat(growCat));
cl::opt<int64_t> blockSize("block-size",
                           cl::desc("Layers per block (default: the model's; "
                                    "with --import-hf-config 4, 2 or 1; with "
                                    "a recipe, the grown model's)"),
                           cl::init(0), cl::cat(growCat));
cl::opt<int64_t> growSteps("grow-steps",
                           cl::desc("Apply the growth operator K times"),
                           cl::init(1), cl::cat(growCat));
cl::opt<std::string> lidasOdd("lidas-odd",
                              cl::desc("LIDAS with an odd block count: midas "
                                       "(copy the central block, default) | "
                                       "centred"),
                              cl::init("midas"), cl::cat(growCat));
cl::opt<int64_t>
    expandEvery("expand-every",
                cl::desc("--grow=block-expansion: insert a layer after every "
                         "N (a copy of the N-th, its output projections "
                         "zeroed); N divides the layer count"),
                cl::value_desc("N"), cl::init(0), cl::cat(growCat));
cl::opt<double> expandOutputScale(
    "expand-output-scale",
    cl::desc("--grow=block-expansion: factor on the new layers' o_proj and "
             "down_proj (default 0: zero, LLaMA Pro; 1: plain copies)"),
    cl::value_desc("S"), cl::init(0.0), cl::cat(growCat));
cl::opt<int64_t> upscaleDrop(
    "upscale-drop",
    cl::desc("--grow=depth-upscale: L layers -> [0, L-M) then [M, L) "
             "(SOLAR); 0 < M < L"),
    cl::value_desc("M"), cl::init(0), cl::cat(growCat));
cl::opt<std::string> layerRanges(
    "layer-ranges",
    cl::desc("--grow=layers: half-open layer ranges concatenated, like "
             "mergekit's layer_range (e.g. 0:8,4:12); layers not named are "
             "dropped"),
    cl::value_desc("B:E,..."), cl::init(""), cl::cat(growCat));
cl::opt<int64_t> stackFactor("stack-factor",
                             cl::desc("--grow=gstack: the layers repeated G "
                                      "times (G_stack); G >= 2"),
                             cl::value_desc("G"), cl::init(0),
                             cl::cat(growCat));
cl::opt<bool> printLineage("print-lineage",
                           cl::desc("Print each layer's source layer in the "
                                    "input model (* marks copies)"),
                           cl::init(false), cl::cat(growCat));
cl::opt<bool> quiet("quiet", cl::desc("Do not describe the growth steps"),
                    cl::init(false), cl::cat(growCat));

// Checkpoints.
cl::opt<std::string> weightsIn("weights-in",
                               cl::desc("Checkpoint of the input model (a "
                                        "safetensors file, a model.safetensors"
                                        ".index.json or a model directory)"),
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

} // namespace growc::opts

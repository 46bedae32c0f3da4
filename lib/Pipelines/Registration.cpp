//===- Registration.cpp - growc's pipelines as named, textual pipelines
//----===//
//
// Registers each pipeline of Pipelines.h under its `growc-...-pipeline`
// name with the options its textual form takes, so growc-opt (and
// `--pass-pipeline`) runs exactly what the driver runs, e.g.
//
//   growc-opt m.mlir --growc-training-graph-pipeline='graph=train batch=2'
//                    --growc-kernel-pipeline=target=cpu
//
//===----------------------------------------------------------------------===//

#include "growc/Pipelines.h"

#include "mlir/Pass/PassOptions.h"
#include "mlir/Pass/PassRegistry.h"

using namespace mlir;
using namespace growc;

namespace {

struct GrowthPipelineCLOptions
    : public PassPipelineOptions<GrowthPipelineCLOptions> {
  Option<std::string> method{
      *this, "method",
      llvm::cl::desc("midas, lidas, gradstack, block-expansion, "
                     "depth-upscale, layers or gstack"),
      llvm::cl::init("lidas")};
  Option<int64_t> blockSize{
      *this, "block-size",
      llvm::cl::desc("Layers per block (0: the model's block size)"),
      llvm::cl::init(0)};
  Option<int64_t> steps{*this, "steps",
                        llvm::cl::desc("Times the operator is applied"),
                        llvm::cl::init(1)};
  Option<std::string> lidasOdd{
      *this, "lidas-odd",
      llvm::cl::desc("LIDAS with an odd block count: midas or centred"),
      llvm::cl::init("midas")};
  Option<int64_t> sourceLayers{
      *this, "source-layers",
      llvm::cl::desc("Layers before growth (0: source ranges unchecked)"),
      llvm::cl::init(0)};
  // The one-shot recipes' options, as their passes name them.
  Option<int64_t> expandEvery{
      *this, "expand-every",
      llvm::cl::desc("block-expansion: a new layer after every N"),
      llvm::cl::init(0)};
  Option<double> expandOutputScale{
      *this, "expand-output-scale",
      llvm::cl::desc("block-expansion: factor on the new layers' output "
                     "projections (0: zero)"),
      llvm::cl::init(0.0)};
  Option<int64_t> upscaleDrop{
      *this, "upscale-drop",
      llvm::cl::desc("depth-upscale: layers dropped from each copy"),
      llvm::cl::init(0)};
  Option<std::string> layerRanges{
      *this, "layer-ranges",
      llvm::cl::desc("layers: half-open ranges BEGIN:END,..."),
      llvm::cl::init("")};
  Option<int64_t> stackFactor{
      *this, "stack-factor",
      llvm::cl::desc("gstack: how many times the layers are stacked"),
      llvm::cl::init(0)};
};

struct TrainingGraphCLOptions
    : public PassPipelineOptions<TrainingGraphCLOptions> {
  Option<std::string> graph{*this, "graph",
                            llvm::cl::desc("forward, loss, grad or train"),
                            llvm::cl::init("forward")};
  Option<int64_t> batch{*this, "batch", llvm::cl::desc("Batch size B"),
                        llvm::cl::init(1)};
  Option<int64_t> seq{*this, "seq", llvm::cl::desc("Sequence length T"),
                      llvm::cl::init(256)};
  Option<int64_t> keyBlock{*this, "key-block",
                           llvm::cl::desc("Keys per flash-attention block"),
                           llvm::cl::init(64)};
  Option<int64_t> lossRows{
      *this, "loss-rows",
      llvm::cl::desc("Token rows per cross-entropy block (0: auto)"),
      llvm::cl::init(0)};
  Option<int64_t> accumulate{
      *this, "accumulate",
      llvm::cl::desc("Train graph: micro-batches per optimizer step"),
      llvm::cl::init(1)};
  Option<bool> fuseProjections{
      *this, "fuse-projections",
      llvm::cl::desc("One GEMM for q|k|v and one for gate|up per layer"),
      llvm::cl::init(true)};
  Option<bool> normGradColumnSum{
      *this, "norm-grad-column-sum",
      llvm::cl::desc("RMSNorm weight gradients as column sums in the dx "
                     "kernels (what growc sets for PTX)"),
      llvm::cl::init(false)};
  Option<bool> atomicEmbedGrad{
      *this, "atomic-embedding-grad",
      llvm::cl::desc("The embedding gradient by blocks of tokens adding with "
                     "float atomics (what growc sets for GPU kernels)"),
      llvm::cl::init(false)};
};

struct KernelPipelineCLOptions
    : public PassPipelineOptions<KernelPipelineCLOptions> {
  Option<std::string> target{
      *this, "target",
      llvm::cl::desc("cpu, or nvptx (GPU-shaped kernels, also what "
                     "growc --kernel-form=gpu runs on the CPU)"),
      llvm::cl::init("cpu")};
  Option<std::string> precision{*this, "precision",
                                llvm::cl::desc("fp32 or bf16"),
                                llvm::cl::init("fp32")};
  Option<std::string> gpuAttention{
      *this, "gpu-attention",
      llvm::cl::desc("flash, gemm, mma or mma-default (GPU only)"),
      llvm::cl::init("flash")};
  Option<int64_t> threadsPerBlock{
      *this, "gpu-threads",
      llvm::cl::desc("GPU threads per block of the row kernels"),
      llvm::cl::init(256)};
};

struct NvvmPipelineCLOptions
    : public PassPipelineOptions<NvvmPipelineCLOptions> {
  Option<std::string> chip{*this, "chip", llvm::cl::desc("GPU (sm_90)"),
                           llvm::cl::init("sm_90")};
  Option<std::string> features{*this, "features",
                               llvm::cl::desc("PTX ISA feature (+ptx81)"),
                               llvm::cl::init("+ptx81")};
  Option<std::string> libdevice{*this, "libdevice",
                                llvm::cl::desc("Path of libdevice.10.bc"),
                                llvm::cl::init("")};
};

} // namespace

/// Registers `name` with the options struct `CLOptions`; `build` checks
/// the option values (reporting through `error`) and fills the pipeline.
template <typename CLOptions>
void registerWithOptions(
    StringRef name, StringRef description,
    std::function<LogicalResult(OpPassManager &, const CLOptions &,
                                function_ref<LogicalResult(const Twine &)>)>
        build) {
  registerPassPipeline(
      name, description,
      [build](OpPassManager &pm, StringRef text,
              function_ref<LogicalResult(const Twine &)> error) {
        CLOptions options;
        if (failed(options.parseFromString(text)))
          return failure();
        return build(pm, options, error);
      },
      [](function_ref<void(const detail::PassOptions &)> printOptions) {
        printOptions(CLOptions());
      });
}

using ErrorFn = function_ref<LogicalResult(const Twine &)>;

void growc::registerPipelines() {
  registerWithOptions<GrowthPipelineCLOptions>(
      "growc-growth-pipeline",
      "Apply a growth operator and verify the grown model",
      [](OpPassManager &pm, const GrowthPipelineCLOptions &cl, ErrorFn error) {
        std::optional<GrowthMethod> method = parseGrowthMethod(cl.method);
        if (!method)
          return error("growc-growth-pipeline: method must be midas, lidas, "
                       "gradstack, block-expansion, depth-upscale, layers or "
                       "gstack, got '" +
                       cl.method + "'");
        GrowthPipelineOptions options;
        options.method = *method;
        options.blockSize = cl.blockSize;
        options.steps = cl.steps;
        options.lidasOdd = cl.lidasOdd;
        options.sourceLayers = cl.sourceLayers;
        options.expandEvery = cl.expandEvery;
        options.expandOutputScale = cl.expandOutputScale;
        options.upscaleDrop = cl.upscaleDrop;
        options.layerRanges = cl.layerRanges;
        options.stackFactor = cl.stackFactor;
        buildGrowthPipeline(pm, options);
        return success();
      });
  registerWithOptions<TrainingGraphCLOptions>(
      "growc-training-graph-pipeline",
      "Lower a grow.model to the tensor-level function of one graph",
      [](OpPassManager &pm, const TrainingGraphCLOptions &cl, ErrorFn) {
        // The lowering checks the graph and sizes itself, with diagnostics.
        buildTrainingGraphPipeline(
            pm, {cl.graph, cl.batch, cl.seq, cl.keyBlock, cl.lossRows,
                 cl.accumulate, cl.fuseProjections, cl.normGradColumnSum,
                 cl.atomicEmbedGrad});
        return success();
      });
  registerWithOptions<KernelPipelineCLOptions>(
      "growc-kernel-pipeline",
      "Form, bufferize and distribute the kernels of a tensor-level graph",
      [](OpPassManager &pm, const KernelPipelineCLOptions &cl, ErrorFn error) {
        if (cl.target != "cpu" && cl.target != "nvptx")
          return error("growc-kernel-pipeline: target must be cpu or nvptx, "
                       "got '" +
                       cl.target + "'");
        if (cl.precision != "fp32" && cl.precision != "bf16")
          return error("growc-kernel-pipeline: precision must be fp32 or "
                       "bf16, got '" +
                       cl.precision + "'");
        StringRef attention = cl.gpuAttention;
        if (attention != "flash" && attention != "gemm" && attention != "mma" &&
            attention != "mma-default")
          return error("growc-kernel-pipeline: gpu-attention must be flash, "
                       "gemm, mma or mma-default, got '" +
                       attention + "'");
        if (cl.threadsPerBlock < 1 || cl.threadsPerBlock > 1024)
          return error("growc-kernel-pipeline: gpu-threads must be in "
                       "[1, 1024]");
        KernelPipelineOptions options;
        options.target =
            cl.target == "nvptx" ? CodegenTarget::Nvptx : CodegenTarget::Cpu;
        options.precision = cl.precision;
        options.gpuAttention = cl.gpuAttention;
        options.threadsPerBlock = cl.threadsPerBlock;
        buildKernelPipeline(pm, options);
        return success();
      });
  PassPipelineRegistration<>(
      "growc-cpu-llvm-pipeline",
      "Lower prepared CPU kernels to the LLVM dialect",
      [](OpPassManager &pm) { buildCpuLLVMPipeline(pm); });
  registerWithOptions<NvvmPipelineCLOptions>(
      "growc-nvvm-pipeline",
      "Attach the NVVM target and lower the gpu.module to NVVM",
      [](OpPassManager &pm, const NvvmPipelineCLOptions &cl, ErrorFn) {
        buildNvvmPipeline(pm, {cl.chip, cl.features, cl.libdevice});
        return success();
      });
}

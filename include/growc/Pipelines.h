//===- Pipelines.h - growc's named pass pipelines ---------------*- C++ -*-===//
//
// Every pass pipeline the growc driver runs, as functions (after IREE's
// build*PassPipeline): the driver calls them, and each is registered under
// a `growc-...-pipeline` name so that growc-opt runs exactly the same
// passes. In order:
//
//   growc-growth-pipeline          grow.model -> grown grow.model (verified)
//   growc-training-graph-pipeline  grow.model -> one tensor-level function
//                                  (forward | loss | grad | train)
//   growc-kernel-pipeline          -> bufferized host function + kernels,
//                                  distributed over blocks (what the plan
//                                  emitter reads)
//   growc-cpu-llvm-pipeline        CPU tail: kernels -> LLVM dialect
//   growc-nvvm-pipeline            GPU tail: outlined gpu.module -> NVVM
//
// The plan emitter (Codegen.h: emitPlan) runs between the kernel pipeline
// and a tail; the backends (lowerKernelsToLLVM, compileKernelsToPtx) run the
// tails.
//
//===----------------------------------------------------------------------===//

#ifndef GROWC_PIPELINES_H
#define GROWC_PIPELINES_H

#include "growc/Growth/GrowthPlan.h"

#include "mlir/Pass/PassManager.h"

#include <string>

namespace growc {

//===----------------------------------------------------------------------===//
// Growth
//===----------------------------------------------------------------------===//

struct GrowthPipelineOptions {
  GrowthMethod method = GrowthMethod::Lidas;
  /// Layers per block; 0: the model's own block size.
  int64_t blockSize = 0;
  /// How many times the operator is applied.
  int64_t steps = 1;
  /// LIDAS with an odd number of blocks: "midas" or "centred".
  std::string lidasOdd = "midas";
  /// Layers of the model before growth (0: provenance ranges unchecked).
  int64_t sourceLayers = 0;
  /// The one-shot recipes' parameters (LayerRecipe; 0 / empty: not given).
  /// With a recipe, `blockSize` is the grown model's block size and `steps`
  /// is not read.
  int64_t expandEvery = 0;
  double expandOutputScale = 0.0;
  int64_t upscaleDrop = 0;
  std::string layerRanges;
  int64_t stackFactor = 0;

  /// The recipe of a one-shot `method`, as its pass reads it.
  LayerRecipe layerRecipe() const;
};

/// The growth operator `steps` times (a recipe once), then
/// growc-verify-grown-model.
void buildGrowthPipeline(mlir::OpPassManager &pm,
                         const GrowthPipelineOptions &options);

//===----------------------------------------------------------------------===//
// Training graph
//===----------------------------------------------------------------------===//

struct TrainingGraphOptions {
  /// "forward", "loss", "grad" or "train".
  std::string graph = "forward";
  int64_t batch = 1;
  int64_t seq = 256;
  /// Keys per flash-attention block.
  int64_t keyBlock = 64;
  /// Token rows per cross-entropy block (0: automatic).
  int64_t lossRows = 0;
  /// Train graph: micro-batches per optimizer step.
  int64_t accumulate = 1;
  /// One GEMM for each layer's q|k|v and one for gate|up (off with
  /// accumulate > 1: growc-lower-model-to-tensors).
  bool fuseProjections = true;
  /// RMSNorm weight gradients as column sums in the dx kernels (the GPU:
  /// growc-differentiate-model{norm-grad-column-sum}); the CPU keeps the
  /// GEMM form.
  bool normGradColumnSum = false;
  /// The embedding gradient by blocks of tokens adding with float atomics
  /// (GPU-shaped kernels: growc-differentiate-model{atomic-embedding-grad});
  /// the CPU keeps one block per range of vocabulary rows.
  bool atomicEmbedGrad = false;
};

/// grow.model -> the tensor-level function of `graph`: the forward lowering,
/// for grad and train the reverse walk over the ops' VJP rules, for train
/// the optimizer step.
void buildTrainingGraphPipeline(mlir::OpPassManager &pm,
                                const TrainingGraphOptions &options);

//===----------------------------------------------------------------------===//
// Kernels
//===----------------------------------------------------------------------===//

enum class CodegenTarget { Cpu, Nvptx };

struct KernelPipelineOptions {
  /// Which kernels to form: CPU kernels (attention expanded into tiled
  /// loops, one thread per block) or GPU-shaped ones (also what
  /// --kernel-form=gpu runs on the CPU).
  CodegenTarget target = CodegenTarget::Cpu;
  /// "fp32", or "bf16": GEMM operands and the activations they read and
  /// write stored as bf16, f32 compute (growc-demote-activations).
  std::string precision = "fp32";
  /// The GPU form of attention: "flash", "gemm" (growc-attention-to-gemms),
  /// "mma" (growc-attention-to-tensor-cores) or "mma-default" (mma without
  /// a warning where a head size has no kernel).
  std::string gpuAttention = "flash";
  /// GPU threads per block of the row kernels.
  int64_t threadsPerBlock = 256;
};

/// Tensor-level function -> bufferized host function (library calls,
/// kernel calls, allocations, views) + kernels, distributed over blocks:
/// kernel formation, mixed precision, bufferization with out-parameters,
/// distribution.
void buildKernelPipeline(mlir::OpPassManager &pm,
                         const KernelPipelineOptions &options);

/// The CPU tail: bufferized kernels (after the CPU backend's preparation,
/// lowerKernelsToLLVM) -> the LLVM dialect.
void buildCpuLLVMPipeline(mlir::OpPassManager &pm);

struct NvvmPipelineOptions {
  std::string chip = "sm_90";
  std::string features = "+ptx81";
  /// libdevice.10.bc, linked for the kernels' math.
  std::string libdevice;
};

/// The GPU tail: the outlined gpu.module -> NVVM with its target attached
/// (compileKernelsToPtx then serialises it to PTX).
void buildNvvmPipeline(mlir::OpPassManager &pm,
                       const NvvmPipelineOptions &options);

/// Registers every pipeline above under its `growc-...-pipeline` name.
void registerPipelines();

} // namespace growc

#endif // GROWC_PIPELINES_H

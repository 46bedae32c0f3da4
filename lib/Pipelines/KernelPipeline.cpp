//===- KernelPipeline.cpp - growc-kernel-pipeline
//--------------------------===//
//
// The target-shaped middle of code generation: from the tensor-level
// function to what the plan emitter reads, one bufferized host function
// (library calls, kernel calls, allocations, views; out-parameters instead
// of results) and the kernels, distributed over blocks.
//
//   attention form (GPU) -> kernel formation -> mixed precision
//   -> attention expansion (CPU) -> library calls -> bufferization
//   -> distribution
//
//===----------------------------------------------------------------------===//

#include "growc/Pipelines.h"

#include "passes/Fusion/Passes.h"
#include "passes/Gpu/Passes.h"
#include "passes/Lowering/Passes.h"

#include "mlir/Dialect/Bufferization/Transforms/Passes.h"
#include "mlir/Transforms/Passes.h"

using namespace mlir;

void growc::buildKernelPipeline(OpPassManager &pm,
                                const KernelPipelineOptions &options) {
  bool gpu = options.target == CodegenTarget::Nvptx;
  // On the GPU, attention can instead be GEMMs and row kernels, or the
  // kernel library's tensor-core FlashAttention.
  if (gpu && options.gpuAttention == "gemm")
    pm.addPass(createAttentionToGemms());
  // "mma-default": chosen by default (bf16), so head sizes without a
  // kernel fall back to the flash form without a warning.
  if (gpu &&
      (options.gpuAttention == "mma" || options.gpuAttention == "mma-default"))
    pm.addPass(createAttentionToTensorCores(
        {/*warnUnsupported=*/options.gpuAttention == "mma",
         // The library's RoPE-on-load instances read bf16 activations.
         /*ropeOnLoad=*/options.precision == "bf16"}));
  // Attention is a kernel of its own on both targets; the CPU expands it
  // into tiled tensor loops (one scf.forall its runtime splits over
  // threads), the GPU distributes the op itself (growc-distribute-kernels).
  pm.addPass(createFormKernels());
  // Mixed precision changes only what crosses kernel and GEMM boundaries,
  // so it follows kernel formation.
  if (options.precision != "fp32")
    pm.addPass(createDemoteActivations({options.precision}));
  if (!gpu)
    pm.addPass(createExpandAttention());
  pm.addPass(createLowerLibraryCallsToLinalg({/*libraryCall=*/true}));
  bufferization::OneShotBufferizePassOptions bufferize;
  bufferize.bufferizeFunctionBoundaries = true;
  bufferize.functionBoundaryTypeConversion =
      bufferization::LayoutMapOption::IdentityLayoutMap;
  // The attention loop yields fresh running max/sum/output tensors.
  bufferize.allowReturnAllocsFromLoops = true;
  pm.addPass(bufferization::createOneShotBufferizePass(bufferize));
  bufferization::BufferResultsToOutParamsPassOptions outParams;
  outParams.hoistStaticAllocs = true;
  outParams.modifyPublicFunctions = true;
  pm.addPass(bufferization::createBufferResultsToOutParamsPass(outParams));
  pm.addPass(createCanonicalizerPass());
  // Blocks for both targets: rows (and attention tiles) are what the GPU's
  // blocks and the CPU runtime's threads share out; a CPU block is one
  // thread wide. Before the plan: a kernel the GPU runs in more than one
  // launch adds kernels and scratch buffers to the host function.
  pm.addPass(createDistributeKernels(
      {gpu ? options.threadsPerBlock : 1, /*keepOtherKernels=*/!gpu}));
}

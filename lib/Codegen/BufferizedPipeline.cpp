//===- BufferizedPipeline.cpp - grow.model to bufferized kernels ----------===//
//
// The target-independent part of code generation. After it, the module holds
// one host function (library calls, kernel calls, allocations, views) and
// the kernels, all on memrefs with out-parameters instead of results.
//
//===----------------------------------------------------------------------===//

#include "growc/Codegen/Codegen.h"

#include "passes/Fusion/Passes.h"
#include "passes/Lowering/Passes.h"

#include "mlir/Dialect/Bufferization/Transforms/Passes.h"
#include "mlir/Transforms/Passes.h"

using namespace mlir;

void growc::buildBufferizedForwardPipeline(OpPassManager &pm,
                                           const CodegenOptions &options) {
  pm.addPass(createLowerModelToTensors(
      {options.batch, options.seq, options.keyBlock, options.graph,
       options.vocabChunk, options.accumulate}));
  // On the GPU, attention can instead be GEMMs and row kernels, or the
  // kernel library's tensor-core FlashAttention.
  if (options.target == CodegenTarget::Nvptx && options.gpuAttention == "gemm")
    pm.addPass(createAttentionToGemms());
  // "mma-default": chosen by default (bf16), so head sizes without a
  // kernel fall back to the flash form without a warning.
  if (options.target == CodegenTarget::Nvptx &&
      (options.gpuAttention == "mma" || options.gpuAttention == "mma-default"))
    pm.addPass(createAttentionToTensorCores(
        {/*warnUnsupported=*/options.gpuAttention == "mma"}));
  // Attention is a kernel of its own on both targets; the CPU expands it
  // into tiled tensor loops (one scf.forall its runtime splits over
  // threads), the GPU distributes the op itself (growc-distribute-kernels).
  pm.addPass(createFormKernels());
  // Mixed precision changes only what crosses kernel and GEMM boundaries,
  // so it follows kernel formation.
  if (options.precision != "fp32")
    pm.addPass(createDemoteActivations({options.precision}));
  if (options.target == CodegenTarget::Cpu)
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
}

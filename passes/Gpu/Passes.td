//===- Passes.td - shaping kernels for the GPU -------------*- tablegen -*-===//
//
// Passes that turn bufferized growc kernels into the block / thread
// structure of a GPU launch, still as loops (scf.forall with GPU mapping
// attributes), so the same IR can also be run on the CPU and checked.
//
//===----------------------------------------------------------------------===//

#ifndef GROWC_PASSES_GPU_PASSES_TD
#define GROWC_PASSES_GPU_PASSES_TD

include "mlir/Pass/PassBase.td"

def DistributeKernels : Pass<"growc-distribute-kernels", "::mlir::ModuleOp"> {
  let summary = "Give each bufferized kernel a block / thread structure";
  let description = [{
    Rewrites every `growc.kernel` function (bufferized) into one
    `scf.forall` mapped to GPU blocks whose body is a sequence of
    `scf.forall`s mapped to threads; sibling thread loops are separated by
    a block-wide barrier once mapped (`gpu.barrier`), so each one may read
    what the previous one wrote anywhere in the block.

    - Row kernels (everything but attention: embedding, RMSNorm, RoPE,
      residual adds, SwiGLU) have one block per row of the `[B·T, ·]`
      activations. Each linalg op becomes one thread loop: elements of the
      row strided over the threads; a reduction over the whole row (the
      RMSNorm sum of squares) becomes per-thread partials in a block buffer
      combined by one thread. Intermediates allocated inside the kernel
      shrink to one row per block (workgroup memory on the GPU).
    - Attention (`growk.attention` on memrefs) has one block per
      (query tile of `key_block` rows, head, batch) and one thread per
      query row, which walks the keys up to its own position with an online
      softmax (running max, sum and a private `[head_dim]` accumulator):
      flash-style, the `T x T` scores never exist.

    A kernel that already is one `scf.forall` of independent blocks (the
    CPU's expanded attention) is left as it is. Kernels of any other shape
    (a write through a view, a row depending on another row, a reduction
    other than sum or max) are diagnosed, not guessed at.

    The CPU target runs this pass too, one thread per block and with
    `keep-other-kernels`: its runtime shares the blocks (rows) out over its
    threads, and a kernel of another shape (attention padded to its tile)
    simply stays one block.
  }];
  let dependentDialects = [
    "::mlir::affine::AffineDialect", "::mlir::arith::ArithDialect",
    "::mlir::gpu::GPUDialect", "::mlir::math::MathDialect",
    "::mlir::memref::MemRefDialect", "::mlir::scf::SCFDialect"];
  let options = [
    Option<"threadsPerBlock", "threads", "int64_t", /*default=*/"256",
           "Threads per block of a row kernel">,
    Option<"keepOtherKernels", "keep-other-kernels", "bool",
           /*default=*/"false",
           "Leave kernels that are not row kernels unchanged (CPU)">,
  ];
}

#endif // GROWC_PASSES_GPU_PASSES_TD

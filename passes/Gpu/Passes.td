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

    - Row kernels (embedding, RMSNorm, RoPE, residual adds, SwiGLU, the
      cross-entropy's row work, and their backward) have one block per row
      of the `[B·T, ·]` activations. Each linalg op becomes one thread
      loop: elements of the row strided over the threads (with more than
      one thread, vectors of up to 128 bits of consecutive elements where
      the global operands are contiguous along the row and, when the
      kernel runs, aligned); a reduction over the whole row (the RMSNorm
      sum of squares) becomes per-thread partials in a block buffer
      combined by one thread in thread order, marked
      `growc.combine_partials` so that the GPU backend combines them with
      warp shuffles instead. Intermediates
      allocated inside the kernel shrink to one row per block (workgroup
      memory on the GPU).
    - A row kernel that also sums over its rows into columns (a linalg op
      with loops [rows, columns], reduction then parallel, its output
      indexed by the column and filled before it: an RMSNorm weight's
      gradient) stays one launch of G = min(rows, 256) blocks: block b
      does rows b, b + G, ... (the row work as above, then adds the row
      into a per-block accumulator), writes its accumulator as row b of a
      `[G, columns]` scratch buffer, fences (`membar.gl`) and counts
      itself done on a completion counter (an atomic add). The block that
      makes the count G sums the partials in block order 0..G-1 from the
      fill's value into the output, so the result does not depend on the
      blocks' timing, and sets the counter back to zero. The counter is
      one i32 of the host function (`growc.zeroed`: the plan's `zeroed`
      buffer, zeroed once by the runtime) shared by every such launch.
    - Attention (`growk.attention` on memrefs) has one block per
      (query tile of `key_block` rows, head, batch) and one thread per
      query row, which walks the keys up to its own position with an online
      softmax (running max, sum and a private `[head_dim]` accumulator):
      flash-style, the `T x T` scores never exist.
    - The attention gradient (`growk.attention_grad`) is two launches: one
      thread per (query row, head) computes the row's log-sum-exp and
      `D = dO · O` (kept in two scratch buffers) and dQ; a follower kernel,
      one thread per (key row, KV head), accumulates dK and dV. Each output
      has one writer, so no atomics.
    - An op marked `growc.own_kernel` (a parameter update, a reduction over
      all rows) with the fills and copies of its output: elementwise work
      grid-strided over the flattened elements; a reduction as blocks over
      (tiles of output elements, chunks of reduced elements), partials
      folded in thread order, and, with several chunks, a scratch buffer of
      partials and a follower kernel that adds them in chunk order
      (deterministic: no float atomics).
    - A block loop (an `scf.forall` of independent iterations, such as the
      embedding gradient's vocabulary ranges) keeps one block per
      iteration; the linalg ops in it, also under block-level `scf.for` /
      `scf.if`, become thread loops.

    Kernels that need scratch buffers or a second launch change the host
    function: its calls of the kernel pass the buffers (allocated there,
    so the plan places them) and are followed by calls of the followers.
    Kernels of any other shape (a write through a view, a row depending on
    another row, a reduction other than sum or max, per-block buffers over
    48 KiB) are diagnosed, not guessed at.

    The CPU target runs this pass too, one thread per block and with
    `keep-other-kernels`: its runtime shares the blocks (rows) out over its
    threads; block loops are already blocks, and a kernel of another shape
    simply stays one block.
  }];
  let dependentDialects = [
    "::mlir::affine::AffineDialect", "::mlir::arith::ArithDialect",
    "::mlir::gpu::GPUDialect", "::mlir::math::MathDialect",
    "::mlir::memref::MemRefDialect", "::mlir::NVVM::NVVMDialect",
    "::mlir::scf::SCFDialect", "::mlir::vector::VectorDialect"];
  let options = [
    Option<"threadsPerBlock", "threads", "int64_t", /*default=*/"256",
           "Threads per block of a row kernel">,
    Option<"keepOtherKernels", "keep-other-kernels", "bool",
           /*default=*/"false",
           "Distribute only row kernels, leave the others unchanged (CPU)">,
  ];
}

#endif // GROWC_PASSES_GPU_PASSES_TD

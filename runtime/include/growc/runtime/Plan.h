//===- Plan.h - The artifact plan (*.plan.json) -----------------*- C++ -*-===//
//
// A compiled artifact is a kernels file (a native .so for the CPU, PTX for
// the GPU) plus a plan: the JSON description of the arena, the named tensors
// and the ordered steps (docs/plan.md is the specification). This header is
// the runtime's in-memory form of a plan and its loader.
//
// The runtime trusts nothing in a plan: loadPlan checks every rule of
// docs/plan.md ("What the runtime verifies") that does not depend on a
// particular run, so that executors can index buffers and call kernels
// without further bounds checks. Whether the kernels file exports every
// symbol is checked by the executor that loads it; the per-run checks
// (checkpoint contents, tokens) are made by the executor as well.
//
//===----------------------------------------------------------------------===//

#ifndef GROWC_RUNTIME_PLAN_H
#define GROWC_RUNTIME_PLAN_H

#include "growc/runtime/Safetensors.h"
#include "growc/runtime/Status.h"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace growc::rt {

/// One region of the arena: bytes [offset, offset + size).
struct PlanBuffer {
  int64_t id = 0;
  int64_t offset = 0;
  int64_t size = 0;
  /// Zeroed by the executor once, before the first run, and left at zero
  /// by every step that uses it (a completion counter: the last block of a
  /// launch sets it back); holds no tensor, shares no bytes, lives across
  /// runs (docs/plan.md).
  bool zeroed = false;
};

/// A named tensor (an input, parameter or output), stored contiguously and
/// row-major from byte `offset` of its buffer. Several tensors may share a
/// buffer at different offsets: the fused Q/K/V and gate|up GEMMs read
/// parameters that lie back to back as one matrix (docs/plan.md).
struct PlanTensor {
  std::string name;
  int64_t buffer = 0;
  /// Where the tensor starts in its buffer, in bytes (a multiple of the
  /// dtype's size; 0 when the plan does not say).
  int64_t offset = 0;
  DType dtype = DType::F32;
  std::vector<int64_t> shape;
  /// Number of elements (product of shape), filled in by the loader.
  int64_t numElements = 0;
  /// numElements * dtypeSize(dtype), filled in by the loader.
  int64_t byteSize = 0;
};

/// A parameter, with its provenance from growth: `source` names the
/// parameter of the model before the growth step that this one starts from
/// (itself when not grown), `copy` marks an inserted copy. A growth run's
/// stages migrate the training state by it (CpuExecutor::migrateFrom).
/// `frozen` marks a parameter the train graph does not update (growc
/// --trainable): an input only, with no optimizer state and no next value.
/// `scale` is the initialiser: the factor on the source's value the
/// parameter starts from (0: zero-initialised, 1: a plain copy).
struct PlanParam : PlanTensor {
  std::string source;
  bool copy = false;
  double scale = 1.0;
  bool frozen = false;
  /// Mixed precision: the buffer of the parameter's bf16 copy (its value
  /// rounded to nearest even), which the GEMMs read instead of a cast
  /// kernel's output; -1 for none. The copy starts at byte offset / 2 of
  /// that buffer (parameters sharing a buffer share its copy buffer, in the
  /// same order). Derived state: the executor writes it
  /// whenever it sets the parameter from outside a step (loading,
  /// migrating) and the adamw step writes it with the update; it is never
  /// saved.
  int64_t bf16Copy = -1;
};

/// One argument of a generated kernel.
struct PlanKernelArg {
  DType dtype = DType::F32;
  std::vector<int64_t> shape;
  int64_t numElements = 0;
  int64_t byteSize = 0;
  /// A completion counter: the kernel expects it zero at launch and leaves
  /// it zero, so every step binds a zeroed buffer here, and a zeroed buffer
  /// nowhere else (docs/plan.md).
  bool zeroed = false;
};

/// How a GPU kernel is launched: grid and block sizes, and which of the
/// kernel's args are its PTX parameters, in order (one device pointer each).
struct PlanLaunch {
  int64_t grid[3] = {1, 1, 1};
  int64_t block[3] = {1, 1, 1};
  std::vector<int64_t> params;
  /// Dynamic shared memory per block (bytes; 0: static shared memory only).
  int64_t sharedBytes = 0;
};

/// A generated function. On the CPU, `symbol` is exported by the kernels
/// file with the C signature `void symbol(void **args, int64_t begin,
/// int64_t end)` running blocks [begin, end) of `blocks` independent ones;
/// on the GPU it is a PTX entry launched as `launch` says.
struct PlanKernel {
  std::string name;
  std::string symbol;
  /// Inputs first, then outputs.
  std::vector<PlanKernelArg> args;
  /// CPU: the number of independent blocks the kernel's work splits into.
  int64_t blocks = 1;
  /// Present exactly for the nvptx target.
  std::optional<PlanLaunch> launch;
  /// "attention" for attention kernels (compute-bound, so profiles leave
  /// them out of the bandwidth figures); empty for the rest.
  std::string kind;
};

/// How an all_reduce step combines the ranks' values.
enum class PlanReduction { Sum, Mean };

/// One step, run in order.
struct PlanStep {
  enum class Op { Kernel, Gemm, AllReduce, Attention, AttentionGrad, AdamW };
  Op op = Op::Kernel;

  // Op::Kernel: call kernels[kernel] with the addresses of buffers `args`.
  int64_t kernel = 0;
  std::vector<int64_t> args;

  // Op::Gemm: C[m, n] = A[m, k] * B[n, k]^T in fp32, all row-major, C
  // overwritten. a, b, c are buffer ids.
  int64_t a = 0, b = 0, c = 0;
  /// Where each operand starts in its buffer, in bytes (a multiple of 4):
  /// a block of rows of a larger matrix, such as one loss row block of the
  /// final norm's output and of its gradient.
  int64_t aOffset = 0, bOffset = 0, cOffset = 0;
  int64_t m = 0, n = 0, k = 0;
  /// 0: C = op(A)·op(B) (C overwritten); 1: C = op(A)·op(B) + C (a
  /// residual folded into the GEMM).
  int64_t beta = 0;
  /// op(A) = A, stored [m, k] (0), or Aᵀ with A stored [k, m] (1); op(B) =
  /// Bᵀ with B stored [n, k] (1, the forward's weights) or B stored [k, n]
  /// (0).
  int64_t transA = 0, transB = 1;
  /// Element types of A, B and C (F32 or BF16; all F32 when a plan does not
  /// name them). Products and sums are always fp32 (the compute type).
  DType aType = DType::F32, bType = DType::F32, cType = DType::F32;

  // Op::AllReduce (data-parallel training): every float of each buffer in
  // `buffers` (a bucket of gradients) is replaced, in place, by its
  // reduction over the ranks; a no-op in a single process.
  std::vector<int64_t> buffers;
  PlanReduction reduction = PlanReduction::Mean;
  /// -1: always; else a buffer whose first float says whether the step runs
  /// (> 0.5): the `apply` input of gradient accumulation, so that only the
  /// applying micro-batch communicates.
  int64_t when = -1;

  // Op::Attention and Op::AttentionGrad (GPU plans, growc
  // --gpu-attention=mma): causal attention with grouped KV heads run by the
  // kernel library's entry points `symbols` (one for the forward; the
  // backward's prep and main passes). `operands` are buffer ids, each read
  // from `operandOffsets` bytes: q, k, v, o and optionally lse for the
  // forward; q, k, v, o, dout, dq, dk, dv, lse for the backward. q, o, dout
  // and dq are [batch * seqLen, heads * headDim], k, v, dk and dv
  // [batch * seqLen, kvHeads * headDim], lse f32 [batch * heads, seqLen]
  // (docs/plan.md). The activations (q, k, v; o and
  // dout of the backward) are `activationType`, F32 or BF16; the forward's
  // o is `outputType`; dq, dk and dv are F32.
  // RoPE on load (`rope`, the *_rope_* entry points): q, k and v are
  // column blocks of one matrix, rows of `rowStride` elements, read
  // unrotated; operands and offsets end with the tables cos and sin, f32
  // [batch * seqLen, headDim / 2].
  std::vector<std::string> symbols;
  std::vector<int64_t> operands, operandOffsets;
  int64_t batch = 0, seqLen = 0, heads = 0, kvHeads = 0, headDim = 0;
  bool rope = false;
  int64_t rowStride = 0;
  DType activationType = DType::F32, outputType = DType::F32;

  // Op::AdamW (train graphs): the whole optimizer step over every trained
  // parameter at once (docs/plan.md), in place. One buffer id per trained
  // parameter in each list, in the same order; each list's buffers lie in
  // the arena as one flat region with the same element layout, so the
  // step is elementwise over that region. The global gradient norm of
  // `grads` (after any all_reduce) clips them; `adamParams` etc. are updated
  // in place, `gradSums` (gradient accumulation only) becomes 0 where
  // `apply` > 0.5 and the gradient otherwise. Scalars are buffer ids of
  // F32 [1] tensors; `apply` is -1 without accumulation. `symbols` (nvptx
  // plans only) names the kernel library's three entry points: the squared
  // norm's block partials, the scalars, the flat update. The CPU runtime
  // runs the step itself.
  std::vector<int64_t> adamParams, adamGrads, adamExpAvg, adamExpAvgSq,
      adamGradSums;
  /// Mixed precision (optional): the bf16 copy buffer of each parameter of
  /// `adamParams` (its PlanParam::bf16Copy), laid out with the params'
  /// element layout at half the byte offsets; the step writes the rounded
  /// new value where it applies the update.
  std::vector<int64_t> adamBf16Params;
  int64_t adamLr = -1, adamStep = -1, adamApply = -1, adamLossNonfinite = -1,
          adamGradNorm = -1, adamNonfinite = -1;
  double beta1 = 0.9, beta2 = 0.95, eps = 1e-8, weightDecay = 0.01,
         maxGradNorm = 1.0;
};

/// One stage of a growth run compiled ahead (growc --grow=M --stages=K):
/// the stage's plan file, relative to the plan that lists it.
struct PlanGrowthStage {
  int64_t stage = 0;  ///< 1-based
  int64_t layers = 0; ///< decoder layers of the stage's model
  std::string planFile;
  /// Its directory-qualified path, like Plan::kernelsPath.
  std::string planPath;
};

/// The growth section of a stage-1 plan: the operator that links the
/// stages, its block size and every stage's plan (stage 1 is the plan that
/// holds this section). Each later stage's parameters carry their
/// provenance in the previous stage's model (PlanParam::source).
struct PlanGrowth {
  std::string method; ///< "midas", "lidas" or "gradstack"
  int64_t blockSize = 0;
  std::vector<PlanGrowthStage> stages;
};

/// A verified plan (docs/plan.md, version 2).
struct Plan {
  /// Version 2 added `kernels_hash` (and kernels files carry their
  /// signature table); version-1 plans are refused: recompile them.
  static constexpr int64_t kVersion = 2;

  /// Where the plan was read from (for messages), and the directory that
  /// `kernelsFile` is relative to.
  std::string path;
  std::string directory;

  std::string graph;  ///< "forward", later "train", "grad", analyses.
  std::string target; ///< "cpu" or "nvptx".
  std::string model;  ///< The model's symbol name, for messages.
  /// As written in the plan: relative to `directory`.
  std::string kernelsFile;
  /// `directory` / `kernelsFile`, always containing a '/', so that it can be
  /// handed to dlopen without a library search.
  std::string kernelsPath;
  /// The content hash of the kernels file the plan was compiled with
  /// (ContentHash.h); executors refuse any other file.
  std::string kernelsHash;

  int64_t batch = 0;
  int64_t seq = 0;
  int64_t vocabSize = 0;
  int64_t alignment = 0;
  int64_t arenaSize = 0;
  /// Train graphs with gradient accumulation: micro-batches per optimizer
  /// step; the graph then has the F32 [1] input `apply` (1 on the last
  /// micro-batch) and the parameters `optimizer.grad_sum.<name>`.
  int64_t microBatches = 1;

  std::vector<PlanBuffer> buffers; ///< buffers[i].id == i.
  std::vector<PlanTensor> inputs;
  std::vector<PlanParam> params;
  std::vector<PlanTensor> outputs;
  std::vector<PlanKernel> kernels;
  std::vector<PlanStep> steps;
  /// Present in the stage-1 plan of a growth run.
  std::optional<PlanGrowth> growth;

  /// The input, parameter or output called `name`, or nullptr.
  const PlanTensor *findInput(std::string_view name) const;
  const PlanParam *findParam(std::string_view name) const;
  const PlanTensor *findOutput(std::string_view name) const;
};

/// Parses and verifies plan JSON text. `planPath` names the plan in messages
/// and locates the kernels file (relative to its directory); the kernels
/// file itself is not touched. Every message starts with `planPath` and
/// names the offending field, e.g. "x.plan.json: buffers[3]: offset 65 is
/// not a multiple of the alignment 64".
StatusOr<Plan> parsePlan(std::string_view text, const std::string &planPath);

/// Reads `planPath`, parses and verifies it (parsePlan), and checks that the
/// kernels file exists and is a regular file.
StatusOr<Plan> loadPlan(const std::string &planPath);

/// The JSON text of `plan` (docs/plan.md), canonical: keys sorted, two-space
/// indentation, a final newline; optional fields (launch, blocks, kind,
/// shared_bytes, GEMM element types, micro_batches, growth) only where they
/// apply. For every plan parsePlan accepts, parsePlan(serializePlan(p))
/// gives p back, and serializePlan(parsePlan(text)) == text for a canonical
/// text (what growc writes).
std::string serializePlan(const Plan &plan);

/// A kernels file's signature table: the canonical JSON of `kernels` as a
/// plan's "kernels" array writes them, on one line. growc embeds it in the
/// kernels file (KernelsFile.h) so that a plan cannot describe a kernel
/// differently from what was compiled.
std::string serializeKernelTable(const std::vector<PlanKernel> &kernels);

/// Parses and verifies a signature table for `target` ("cpu" or "nvptx")
/// with the plan's own kernel rules; messages name the entry at fault.
StatusOr<std::vector<PlanKernel>> parseKernelTable(std::string_view text,
                                                   const std::string &target);

/// The plan of an artifact given on a command line: `x.plan.json` is the plan
/// itself; for the kernels file `x.so` or `x.ptx` it is the sibling
/// `x.so.plan.json` or `x.ptx.plan.json` (each kernels file has its own
/// plan, so the file named is the one that runs). Any other path is taken to
/// be a plan.
std::string planPathFor(const std::string &artifact);

} // namespace growc::rt

#endif // GROWC_RUNTIME_PLAN_H

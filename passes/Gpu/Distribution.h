//===- Distribution.h - shared pieces of growc-distribute-kernels -*- C++
//-*-===//
//
// growc-distribute-kernels gives every kernel the block / thread structure
// of a GPU launch, as loops. Its kinds of kernels live in their own files
// (DistributeKernels.cpp: the pass and row kernels; DistributeAttention.cpp:
// growk.attention and growk.attention_grad; DistributeOwnKernels.cpp:
// kernels of their own — parameter-shaped elementwise work, reductions over
// all rows, block loops); this header is what they share: building mapped
// foralls and loops, evaluating a linalg op's body at given indices, and
// the host-side changes a distribution may need (scratch buffers in global
// memory and further launches after a kernel).
//
//===----------------------------------------------------------------------===//

#ifndef GROWC_PASSES_GPU_DISTRIBUTION_H
#define GROWC_PASSES_GPU_DISTRIBUTION_H

#include "passes/Gpu/Passes.h"

#include "mlir/IR/IRMapping.h"
#include "llvm/ADT/DenseMap.h"

namespace growc {
namespace distribution {

/// Static shared memory a block may declare without opting in to more;
/// kernels whose per-block buffers need more get them as dynamic shared
/// memory (the plan's launch says how much, and the runtime opts in).
constexpr int64_t kSharedMemoryBytes = 48 * 1024;
/// The most shared memory a block of an sm_90 GPU can opt in to.
constexpr int64_t kMaxSharedMemoryBytes = 227 * 1024;

mlir::Value indexConstant(mlir::OpBuilder &b, mlir::Location loc,
                          int64_t value);
mlir::Value f32Constant(mlir::OpBuilder &b, mlir::Location loc, double value);

/// An scf.forall from 0 to `counts` with the given GPU mapping; the builder
/// is left at the start of its body.
mlir::scf::ForallOp createForall(mlir::OpBuilder &b, mlir::Location loc,
                                 llvm::ArrayRef<int64_t> counts,
                                 llvm::ArrayRef<mlir::Attribute> mapping);
/// The mapping of the i-th grid dimension (x, y, z).
mlir::Attribute blockDim(mlir::MLIRContext *ctx, unsigned i);
mlir::Attribute threadX(mlir::MLIRContext *ctx);

/// `for i = start; i < end; i += step` with the body built by `body`.
void stridedLoop(mlir::OpBuilder &b, mlir::Location loc, mlir::Value start,
                 mlir::Value end, mlir::Value step,
                 llvm::function_ref<void(mlir::OpBuilder &, mlir::Value)> body);
void stridedLoop(mlir::OpBuilder &b, mlir::Location loc, mlir::Value start,
                 int64_t end, int64_t step,
                 llvm::function_ref<void(mlir::OpBuilder &, mlir::Value)> body);
/// `for i = start; i < end; i += step` carrying one f32 `init`; `body`
/// returns the next value. Returns the final value.
mlir::Value foldLoop(
    mlir::OpBuilder &b, mlir::Location loc, mlir::Value start, mlir::Value end,
    mlir::Value step, mlir::Value init,
    llvm::function_ref<mlir::Value(mlir::OpBuilder &, mlir::Value, mlir::Value)>
        body);

/// Splits `flat` into indices of the row-major `sizes`.
llvm::SmallVector<mlir::Value> delinearize(mlir::OpBuilder &b,
                                           mlir::Location loc, mlir::Value flat,
                                           llvm::ArrayRef<int64_t> sizes);

/// The combining op of a reduction body `yield f(in, out)`, with the
/// identity element to start partial results from.
struct Combiner {
  enum Kind { Add, Max } kind;
  double identity;
  mlir::Value combine(mlir::OpBuilder &b, mlir::Location loc, mlir::Value lhs,
                      mlir::Value rhs) const;
};
/// Marks the store of a thread's partial (`partials[t]`, in a thread loop)
/// and the loop that folds a block's partials into a reduction's output,
/// in thread order, with the combining op: "add" or "max". Loops run anywhere
/// (the CPU runs GPU-shaped kernels as loops); the GPU backend instead
/// reduces each warp's partials with shuffles and the warps' results in
/// one warp (lib/Codegen/GpuBackend.cpp).
constexpr llvm::StringLiteral kCombinePartials = "growc.combine_partials";

/// Sum or max, where the output is used once, by the yielded op.
mlir::FailureOr<Combiner> findCombiner(mlir::linalg::LinalgOp op);

/// The buffer under views (reshapes and subviews) of `value`.
mlir::Value baseBuffer(mlir::Value value);

/// Emits the scalar work of linalg ops at given loop indices. A buffer may
/// be replaced by a smaller one indexed without its leading index (an
/// intermediate of [B·T, ·] shrunk to the block's row).
class LinalgScalarizer {
public:
  void dropLeadingIndex(mlir::Value buffer, mlir::Value replacement) {
    shrunk[buffer] = replacement;
  }

  /// The indices of `operand` of `op` at the loop indices `ivs`, and in
  /// `buffer` the memref to address with them.
  llvm::SmallVector<mlir::Value>
  indicesOf(mlir::OpBuilder &b, mlir::Location loc, mlir::linalg::LinalgOp op,
            mlir::OpOperand &operand, llvm::ArrayRef<mlir::Value> ivs,
            mlir::Value &buffer);
  /// Loads (or forwards, for a scalar) `operand` at `ivs`.
  mlir::Value read(mlir::OpBuilder &b, mlir::Location loc,
                   mlir::linalg::LinalgOp op, mlir::OpOperand &operand,
                   llvm::ArrayRef<mlir::Value> ivs);
  /// The value `op` yields at `ivs` with `outValue` as the output's current
  /// value (null when the body does not read it).
  mlir::Value evaluate(mlir::OpBuilder &b, mlir::Location loc,
                       mlir::linalg::LinalgOp op,
                       llvm::ArrayRef<mlir::Value> ivs, mlir::Value outValue);
  /// The same with the inputs' values given (one per DPS input).
  mlir::Value evaluateWith(mlir::OpBuilder &b, mlir::Location loc,
                           mlir::linalg::LinalgOp op,
                           llvm::ArrayRef<mlir::Value> ivs,
                           llvm::ArrayRef<mlir::Value> inputs,
                           mlir::Value outValue);
  /// Stores `value` into the output of `op` at `ivs`.
  void write(mlir::OpBuilder &b, mlir::Location loc, mlir::linalg::LinalgOp op,
             llvm::ArrayRef<mlir::Value> ivs, mlir::Value value);
  /// Whether `op` adds into its output atomically (attr::kAtomicAdd).
  static bool isAtomicAdd(mlir::linalg::LinalgOp op);
  /// What such an op adds at `ivs`: its body with the output's value 0.
  mlir::Value evaluateAdded(mlir::OpBuilder &b, mlir::Location loc,
                            mlir::linalg::LinalgOp op,
                            llvm::ArrayRef<mlir::Value> ivs,
                            llvm::ArrayRef<mlir::Value> inputs);
  /// Adds `value` atomically to the output of `op` at `ivs`.
  void atomicAdd(mlir::OpBuilder &b, mlir::Location loc,
                 mlir::linalg::LinalgOp op, llvm::ArrayRef<mlir::Value> ivs,
                 mlir::Value value);

  /// Emits, at `b`'s insertion point, thread loops (scf.forall mapped to
  /// threads, `threads` wide) that compute `op` with its leading loops fixed
  /// at `fixed`: the remaining parallel iterations strided over the
  /// threads, each reducing its reduction loops in order; or, when only
  /// reduction loops remain, per-thread partials in `partials` (a [threads]
  /// f32 block buffer from `getPartials`) combined by one thread in thread
  /// order, so results do not depend on timing.
  void emitOverThreads(mlir::OpBuilder &b, mlir::linalg::LinalgOp op,
                       llvm::ArrayRef<mlir::Value> fixed, int64_t threads,
                       llvm::function_ref<mlir::Value()> getPartials);
  /// Emits the elementwise `op`'s `elements` strided over `threads`
  /// threads from `thread` (a grid's, in a kernel of its own): in vectors
  /// where its operands allow and their base pointers are aligned (checked
  /// when the kernel runs), else element by element with `element`.
  void
  emitStrided(mlir::OpBuilder &b, mlir::linalg::LinalgOp op, mlir::Value thread,
              int64_t threads, int64_t elements,
              llvm::function_ref<void(mlir::OpBuilder &, mlir::Value)> element);
  /// Emits one thread loop that adds row `row` of the column sum `op`
  /// (loops [rows, columns], reduction then parallel, the output indexed
  /// by the column) into `acc`, a [columns] block buffer: each thread its
  /// strided columns, reading the inputs in vectors where they allow.
  void emitColumnAccumulation(mlir::OpBuilder &b, mlir::linalg::LinalgOp op,
                              mlir::Value row, mlir::Value acc,
                              int64_t threads);

private:
  /// Elements per vector access of an elementwise `op` (the innermost loop
  /// contiguous, divisible and aligned in at least one global operand), or
  /// 0; `vectorOperands` are the operands accessed as vectors.
  int64_t vectorWidth(mlir::linalg::LinalgOp op, unsigned fixed,
                      llvm::SmallVectorImpl<mlir::OpOperand *> &vectorOperands);
  /// For the `width` elements of a vector starting at loop indices `ivs`
  /// (the innermost a multiple of `width`): each element's indices then
  /// its inputs' values, the `vectorOperands` loaded as vectors; in `outs`
  /// the output's values where the body reads them (elementwise work).
  llvm::SmallVector<llvm::SmallVector<mlir::Value>>
  vectorLanes(mlir::OpBuilder &b, mlir::linalg::LinalgOp op,
              llvm::ArrayRef<mlir::Value> ivs, int64_t width,
              llvm::ArrayRef<mlir::OpOperand *> vectorOperands,
              llvm::SmallVector<mlir::Value> &outs);
  /// Whether the base pointers of `vectorOperands` are aligned to vectors
  /// of `width` elements (i1, computed when the kernel runs).
  mlir::Value vectorsAligned(mlir::OpBuilder &b, mlir::Location loc,
                             int64_t width,
                             llvm::ArrayRef<mlir::OpOperand *> vectorOperands);
  /// The strided elementwise loop of `op` over vectors of `width`
  /// elements: vector loads and stores of `vectorOperands`, the body
  /// evaluated per element.
  void emitVectorLoop(
      mlir::OpBuilder &b, mlir::linalg::LinalgOp op,
      llvm::ArrayRef<mlir::Value> fixed, mlir::Value thread, int64_t threads,
      int64_t width, llvm::ArrayRef<mlir::OpOperand *> vectorOperands,
      llvm::function_ref<void(mlir::OpBuilder &, mlir::Value)> element);

  llvm::DenseMap<mlir::Value, mlir::Value> shrunk;

  // Vector loads of the body's contiguous reads (VectorLoads.cpp).
  /// Finds the body's loads from global memory whose last index is the
  /// innermost loop's `inner` plus a constant and whose other indices do
  /// not vary along it; returns their widest element in bits (0: none).
  int64_t findVectorLoads(mlir::linalg::LinalgOp op, unsigned inner);
  /// Keeps in `vectorLoads` the candidates whose shift, layout and offset
  /// allow vectors of `width` elements.
  void selectVectorLoads(int64_t width);
  /// In a vector loop's lane `vectorLane` (else false): clones `nested`,
  /// one of `vectorLoads`, as lane 0's vector load or a later lane's
  /// element of it.
  bool cloneVectorLoad(mlir::OpBuilder &b, mlir::Operation &nested,
                       mlir::IRMapping &mapping);
  llvm::SmallVector<std::pair<mlir::memref::LoadOp, int64_t>> loadCandidates;
  llvm::SmallVector<mlir::memref::LoadOp> vectorLoads;
  llvm::DenseMap<mlir::Operation *, mlir::Value> laneVectors;
  /// The lane being evaluated in a vector loop (-1 outside one) and the
  /// loop's width.
  int64_t vectorLane = -1, vectorWidthInUse = 0;

  // Rows the vector does not divide (VectorLoads.cpp).
  /// Whether the vector operands, all with identity maps, the same
  /// element width, strides and offset (a row of `n` elements at a row
  /// stride the vector need not divide), take vectors of `width` inside
  /// each row: the row's first elements up to an aligned one and its last
  /// ones go element by element. Sets `peeled`.
  bool peelRows(mlir::linalg::LinalgOp op, unsigned fixed,
                llvm::ArrayRef<mlir::OpOperand *> candidates, int64_t width,
                llvm::SmallVectorImpl<mlir::OpOperand *> &vectorOperands);
  /// For the row at `fixed` (a peeled vector loop): the elements before
  /// the first aligned one, the vectors, and where the last elements start.
  struct RowSpan {
    mlir::Value head, vectors, tail;
  };
  RowSpan rowSpan(mlir::OpBuilder &b, mlir::Location loc,
                  llvm::ArrayRef<mlir::Value> fixed, int64_t n, int64_t width);
  bool peeled = false;
  llvm::SmallVector<int64_t> peelStrides;
  int64_t peelOffset = 0;
};

/// Whether `op` may read other elements of the buffer it writes (an input
/// on the same buffer at another index, a load from it in the body): a
/// race once its iterations run in different threads. Diagnoses why.
mlir::LogicalResult checkNoSelfOverlap(mlir::linalg::LinalgOp op);

/// Whether an op marked attr::kAtomicAdd can be added atomically:
/// elementwise, f32, its body `out + f(inputs)`. Diagnoses why not.
mlir::LogicalResult checkAtomicAdd(mlir::linalg::LinalgOp op);

/// Whether only reduction loops of `op` remain after its first `fixed`.
bool reducesEverythingAfter(mlir::linalg::LinalgOp op, unsigned fixed);

/// Host-side changes a kernel's distribution asks for.
struct HostChanges {
  /// Global-memory buffers the kernel's launches share (per-block data too
  /// large for shared memory, partial results between launches): appended
  /// to the kernel's arguments and allocated by the host at every call.
  llvm::SmallVector<mlir::MemRefType> scratch;
  /// Kernels launched right after the kernel, in order, with the same
  /// arguments (the kernel's, then the scratch buffers).
  llvm::SmallVector<mlir::func::FuncOp> followers;
  /// The kernel's last argument (after the scratch buffers) is the host's
  /// completion counter (hostCounter): one i32 that starts at zero and that
  /// every launch leaves at zero. Launches on one stream run one after
  /// another, so all the counting kernels of a step share it.
  bool counter = false;
};

/// The type of a completion counter.
mlir::MemRefType counterType(mlir::MLIRContext *ctx);
/// The completion counter of `host`: an allocation at its start marked
/// attr::kZeroedBuffer (the plan's `zeroed` buffer), created on first use.
mlir::Value hostCounter(mlir::func::FuncOp host);

/// Appends `types` to `kernel`'s arguments and returns the new arguments.
llvm::SmallVector<mlir::Value>
addScratchArguments(mlir::func::FuncOp kernel,
                    llvm::ArrayRef<mlir::MemRefType> types);
/// A copy of `kernel` (signature and body, not yet distributed) named
/// `<kernel>_<suffix>`, placed after it: a follower's distribution rewrites
/// the copies of the ops it shares with the kernel.
mlir::func::FuncOp createFollower(mlir::func::FuncOp kernel,
                                  llvm::StringRef suffix);
/// Rewrites every call of `kernel` in `module` as `changes` asks.
void applyHostChanges(mlir::ModuleOp module, mlir::func::FuncOp kernel,
                      const HostChanges &changes);

//===----------------------------------------------------------------------===//
// The kinds of kernels
//===----------------------------------------------------------------------===//

/// One block per (query tile, head, batch); one thread per query row walks
/// its keys with an online softmax.
mlir::LogicalResult distributeAttention(mlir::func::FuncOp kernel,
                                        growk::AttentionOp attention);
/// Flash-attention-2's backward in two launches (see the definition).
mlir::LogicalResult distributeAttentionGrad(mlir::func::FuncOp kernel,
                                            growk::AttentionGradOp op,
                                            HostChanges &changes);
/// A kernel of its own around one linalg op marked growc.own_kernel:
/// elementwise work grid-strided, reductions as block partials.
mlir::LogicalResult distributeOwnKernel(mlir::func::FuncOp kernel,
                                        int64_t threads, HostChanges &changes);
/// A block loop that updates an input in place (blocks adding into one
/// buffer: the embedding gradient's atomic form, from the tied LM head's
/// weight gradient or zeros) leaves bufferization with a copy of that input
/// into its output at the end; the host's two buffers become one and the
/// copy goes. A call whose buffers cannot be one is an error.
mlir::LogicalResult shareUpdatedInputs(mlir::ModuleOp module,
                                       mlir::func::FuncOp kernel);
/// A kernel that is one scf.forall of independent iterations: one block per
/// iteration, the linalg work inside it over the block's threads.
mlir::LogicalResult distributeBlockLoop(mlir::func::FuncOp kernel,
                                        mlir::scf::ForallOp loop,
                                        int64_t threads);

} // namespace distribution
} // namespace growc

#endif // GROWC_PASSES_GPU_DISTRIBUTION_H

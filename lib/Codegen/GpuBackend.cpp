//===- GpuBackend.cpp - distributed kernels to PTX for sm_90 -------------===//
//
// Kernels shaped by growc-distribute-kernels (one block-mapped scf.forall
// holding thread-mapped scf.foralls) become one gpu.launch each: block ids
// and thread ids replace the loop indices, sibling thread loops are
// separated by gpu.barrier, per-block buffers become workgroup (shared)
// memory. A block's partials that growc-distribute-kernels marks
// (growc.combine_partials) are combined with warp shuffles, and divisions
// by a sqrt or by a loop-invariant value become multiplications (rsqrt,
// reciprocal). The launches are outlined into one gpu.module, lowered to NVVM
// with the bare-pointer calling convention (the runtime passes one device
// pointer per buffer) and serialised to PTX by LLVM's NVPTX backend for an
// explicit chip and PTX version.
//
// libdevice policy: math (exp, sqrt, sin, cos, pow) lowers to libdevice's
// __nv_* functions; libdevice.10.bc from the CUDA toolkit is linked and
// internalised, and a PTX that still calls an __nv_ function is an error.
//
//===----------------------------------------------------------------------===//

#include "growc/AttrNames.h"
#include "growc/Codegen/Codegen.h"
#include "growc/Pipelines.h"
#include "passes/Gpu/Distribution.h"
#include "passes/Gpu/Passes.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/GPU/Transforms/Passes.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/IR/IRMapping.h"
#include "mlir/IR/Matchers.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Target/LLVM/NVVM/Target.h"
#include "mlir/Target/LLVMIR/Dialect/Builtin/BuiltinToLLVMIRTranslation.h"
#include "mlir/Target/LLVMIR/Dialect/GPU/GPUToLLVMIRTranslation.h"
#include "mlir/Target/LLVMIR/Dialect/LLVMIR/LLVMToLLVMIRTranslation.h"
#include "mlir/Target/LLVMIR/Dialect/NVVM/NVVMToLLVMIRTranslation.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/Process.h"

#include <limits>

using namespace mlir;
using namespace growc;

namespace {

llvm::Error fail(const llvm::Twine &message) {
  return llvm::createStringError(llvm::inconvertibleErrorCode(),
                                 "nvptx backend: " + message);
}

/// Threads of a warp, which gpu.shuffle exchanges values between.
constexpr int32_t kWarpSize = 32;

std::optional<int64_t> staticTripCount(scf::ForallOp forall, unsigned dim) {
  std::optional<int64_t> lb =
      getConstantIntValue(forall.getMixedLowerBound()[dim]);
  std::optional<int64_t> ub =
      getConstantIntValue(forall.getMixedUpperBound()[dim]);
  std::optional<int64_t> step = getConstantIntValue(forall.getMixedStep()[dim]);
  if (!lb || !ub || !step || *lb != 0 || *step != 1)
    return std::nullopt;
  return *ub;
}

/// Whether `op` is or contains a thread-mapped scf.forall.
bool hasThreadLoops(Operation *op) {
  return op
      ->walk([](scf::ForallOp forall) {
        return forall.getMapping() ? WalkResult::interrupt()
                                   : WalkResult::advance();
      })
      .wasInterrupted();
}

/// Clones the body of a block (the grid forall's, or a region of block-level
/// control flow inside it) into a gpu.launch body: each thread loop runs
/// its body once per thread, guarded when narrower than the block, and a
/// gpu.barrier separates it from anything after it that may read memory.
/// scf.for / scf.if holding thread loops stay block-level (their bounds and
/// conditions are the same in every thread, so every thread reaches the
/// same barriers).
class LaunchBodyBuilder {
public:
  /// A block's per-thread partials combined with warp shuffles: `threads`
  /// partials, a multiple of the warp size; sum or max.
  struct WarpReduction {
    bool max;
    int64_t threads;
  };
  /// Per-block partials buffers whose reductions may use warp shuffles,
  /// with their width (a kernel's reductions share one buffer).
  using PartialsWidths = llvm::DenseMap<Value, int64_t>;

  LaunchBodyBuilder(OpBuilder &b, IRMapping &mapping, Value threadId,
                    int64_t blockSize, PartialsWidths partialsWidths)
      : b(b), mapping(mapping), threadId(threadId), blockSize(blockSize),
        partialsWidths(std::move(partialsWidths)) {}

  LogicalResult cloneBlock(Block &source, bool top) {
    for (Operation &op : source.without_terminator()) {
      if (top && isa<memref::AllocOp>(op))
        continue; // workgroup memory
      if (auto threads = dyn_cast<scf::ForallOp>(op);
          threads && threads.getMapping()) {
        cloneThreadLoop(threads);
        continue;
      }
      if (!hasThreadLoops(&op)) {
        // Everything the thread loops wrote is visible to a later read.
        if (pendingBarrier && !isMemoryEffectFree(&op))
          barrier();
        b.clone(op, mapping);
        continue;
      }
      if (pendingBarrier)
        barrier();
      if (auto loop = dyn_cast<scf::ForOp>(op)) {
        if (failed(cloneFor(loop)))
          return failure();
      } else if (auto branch = dyn_cast<scf::IfOp>(op)) {
        if (failed(cloneIf(branch)))
          return failure();
      } else {
        return op.emitOpError("thread loops may only be nested in scf.for "
                              "and scf.if at block level");
      }
    }
    return success();
  }

  /// Ends a region: its thread loops' writes are visible after it (and to
  /// the next iteration of a loop).
  void flush() {
    if (pendingBarrier)
      barrier();
  }

private:
  void barrier() {
    gpu::BarrierOp::create(b, b.getUnknownLoc());
    pendingBarrier = false;
  }

  Value index(Location loc, int64_t value) {
    return arith::ConstantIndexOp::create(b, loc, value);
  }

  Value combine(Location loc, const WarpReduction &reduction, Value lhs,
                Value rhs) {
    if (reduction.max)
      return arith::MaximumFOp::create(b, loc, lhs, rhs);
    return arith::AddFOp::create(b, loc, lhs, rhs);
  }

  /// Every lane of a warp ends with the combination of the warp's values:
  /// a butterfly (shfl.sync.bfly) in 5 steps, the same order in every run.
  Value warpReduce(Location loc, const WarpReduction &reduction, Value value) {
    for (int32_t offset = kWarpSize / 2; offset >= 1; offset /= 2) {
      auto shuffled = gpu::ShuffleOp::create(b, loc, value, offset, kWarpSize,
                                             gpu::ShuffleMode::XOR);
      value = combine(loc, reduction, value, shuffled.getShuffleResult());
    }
    return value;
  }

  /// The reduction a partials buffer belongs to, if `store` writes a
  /// thread's partial (`partials[t]`) in a loop as wide as the partials.
  std::optional<WarpReduction>
  partialStore(Operation &op, scf::ForallOp threads, int64_t count) {
    auto store = dyn_cast<memref::StoreOp>(op);
    if (!store || store.getIndices().size() != 1 ||
        store.getIndices()[0] != threads.getInductionVar(0))
      return std::nullopt;
    std::optional<WarpReduction> reduction =
        markedReduction(store, store.getMemRef());
    if (!reduction || reduction->threads != count)
      return std::nullopt;
    return reduction;
  }

  /// The reduction `op` (a partial's store or a combining loop) marks.
  std::optional<WarpReduction> markedReduction(Operation *op, Value partials) {
    auto kind = op->getAttrOfType<StringAttr>(distribution::kCombinePartials);
    auto width = partialsWidths.find(partials);
    if (!kind || width == partialsWidths.end())
      return std::nullopt;
    return WarpReduction{kind.getValue() == "max", width->second};
  }

  /// The warp-reduced partials buffer `loop` folds, if any.
  Value combineLoopPartials(scf::ForOp loop) {
    for (auto load : loop.getBody()->getOps<memref::LoadOp>())
      if (markedReduction(loop, load.getMemRef()))
        return load.getMemRef();
    return {};
  }

  /// The loop in `threads` that folds a warp-reduced partials buffer.
  scf::ForOp combineLoop(scf::ForallOp threads) {
    for (auto loop : threads.getBody()->getOps<scf::ForOp>())
      if (combineLoopPartials(loop))
        return loop;
    return {};
  }

  /// Warp 0 combines the warps' results (`partials[w]`, stored by the
  /// partials loop) with shuffles; the value is the block's total in
  /// lanes of warp 0 (the identity elsewhere).
  Value combineWarps(Location loc, scf::ForOp loop) {
    Value partials = combineLoopPartials(loop);
    WarpReduction reduction = *markedReduction(loop, partials);
    Type type = loop.getResult(0).getType();
    auto identity = [&]() -> Value {
      return arith::ConstantOp::create(
          b, loc,
          b.getFloatAttr(type, reduction.max
                                   ? -std::numeric_limits<double>::infinity()
                                   : 0.0));
    };
    Value inWarp0 = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ult,
                                          threadId, index(loc, kWarpSize));
    auto warp0 = scf::IfOp::create(b, loc, TypeRange{type}, inWarp0,
                                   /*withElse=*/true);
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPointToStart(warp0.thenBlock());
    Value hasPartial =
        arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ult, threadId,
                              index(loc, reduction.threads / kWarpSize));
    auto read = scf::IfOp::create(b, loc, TypeRange{type}, hasPartial,
                                  /*withElse=*/true);
    {
      OpBuilder::InsertionGuard inner(b);
      b.setInsertionPointToStart(read.thenBlock());
      scf::YieldOp::create(
          b, loc,
          ValueRange{memref::LoadOp::create(b, loc, mapping.lookup(partials),
                                            ValueRange{threadId})});
      b.setInsertionPointToStart(read.elseBlock());
      scf::YieldOp::create(b, loc, ValueRange{identity()});
    }
    scf::YieldOp::create(
        b, loc, ValueRange{warpReduce(loc, reduction, read.getResult(0))});
    b.setInsertionPointToStart(warp0.elseBlock());
    scf::YieldOp::create(b, loc, ValueRange{identity()});
    return warp0.getResult(0);
  }

  void cloneThreadLoop(scf::ForallOp threads) {
    if (pendingBarrier)
      barrier();
    Location loc = threads.getLoc();
    int64_t count = *staticTripCount(threads, 0);
    // A combining loop of warp-reduced partials: warp 0 reduces them
    // before the loop's own (narrower) threads use the total.
    scf::ForOp combined = combineLoop(threads);
    Value warpsTotal = combined ? combineWarps(loc, combined) : Value();
    OpBuilder::InsertionGuard guard(b);
    if (count < blockSize) {
      Value bound = arith::ConstantIndexOp::create(b, loc, count);
      Value active = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ult,
                                           threadId, bound);
      auto ifOp = scf::IfOp::create(b, loc, active, /*withElse=*/false);
      b.setInsertionPoint(ifOp.thenBlock()->getTerminator());
    }
    mapping.map(threads.getInductionVar(0), threadId);
    for (Operation &nested : threads.getBody()->without_terminator()) {
      if (&nested == combined.getOperation()) {
        WarpReduction reduction =
            *markedReduction(combined, combineLoopPartials(combined));
        mapping.map(combined.getResult(0),
                    combine(loc, reduction,
                            mapping.lookup(combined.getInitArgs()[0]),
                            warpsTotal));
        continue;
      }
      if (std::optional<WarpReduction> reduction =
              partialStore(nested, threads, count)) {
        // Each warp's partials reduced in registers; lane 0 keeps the
        // warp's result for warp 0 to combine.
        auto store = cast<memref::StoreOp>(nested);
        Value value = warpReduce(loc, *reduction,
                                 mapping.lookup(store.getValueToStore()));
        Value warpSize = index(loc, kWarpSize);
        Value lane = arith::RemUIOp::create(b, loc, threadId, warpSize);
        Value first = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::eq,
                                            lane, index(loc, 0));
        auto ifOp = scf::IfOp::create(b, loc, first, /*withElse=*/false);
        OpBuilder::InsertionGuard inner(b);
        b.setInsertionPoint(ifOp.thenBlock()->getTerminator());
        Value warp = arith::DivUIOp::create(b, loc, threadId, warpSize);
        memref::StoreOp::create(
            b, loc, value, mapping.lookup(store.getMemRef()), ValueRange{warp});
        continue;
      }
      b.clone(nested, mapping);
    }
    pendingBarrier = true;
  }

  LogicalResult cloneFor(scf::ForOp loop) {
    auto clone = scf::ForOp::create(
        b, loop.getLoc(), mapping.lookupOrDefault(loop.getLowerBound()),
        mapping.lookupOrDefault(loop.getUpperBound()),
        mapping.lookupOrDefault(loop.getStep()),
        llvm::map_to_vector(loop.getInitArgs(), [&](Value v) {
          return mapping.lookupOrDefault(v);
        }));
    mapping.map(loop.getInductionVar(), clone.getInductionVar());
    for (auto [from, to] :
         llvm::zip(loop.getRegionIterArgs(), clone.getRegionIterArgs()))
      mapping.map(from, to);
    for (auto [from, to] : llvm::zip(loop.getResults(), clone.getResults()))
      mapping.map(from, to);
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPointToStart(clone.getBody());
    if (!clone.getBody()->empty())
      b.setInsertionPoint(clone.getBody()->getTerminator());
    if (failed(cloneBlock(*loop.getBody(), /*top=*/false)))
      return failure();
    flush();
    auto yield = cast<scf::YieldOp>(loop.getBody()->getTerminator());
    if (clone.getBody()->mightHaveTerminator())
      clone.getBody()->getTerminator()->erase();
    b.setInsertionPointToEnd(clone.getBody());
    scf::YieldOp::create(b, yield.getLoc(),
                         llvm::map_to_vector(yield.getOperands(), [&](Value v) {
                           return mapping.lookupOrDefault(v);
                         }));
    return success();
  }

  LogicalResult cloneIf(scf::IfOp branch) {
    auto clone =
        scf::IfOp::create(b, branch.getLoc(), branch.getResultTypes(),
                          mapping.lookupOrDefault(branch.getCondition()),
                          /*withElse=*/!branch.getElseRegion().empty());
    for (auto [from, to] : llvm::zip(branch.getResults(), clone.getResults()))
      mapping.map(from, to);
    for (auto [from, to] :
         {std::make_pair(&branch.getThenRegion(), &clone.getThenRegion()),
          std::make_pair(&branch.getElseRegion(), &clone.getElseRegion())}) {
      if (from->empty())
        continue;
      OpBuilder::InsertionGuard guard(b);
      Block &target = to->front();
      if (target.mightHaveTerminator())
        target.getTerminator()->erase();
      b.setInsertionPointToEnd(&target);
      if (failed(cloneBlock(from->front(), /*top=*/false)))
        return failure();
      flush();
      b.clone(*from->front().getTerminator(), mapping);
    }
    return success();
  }

  OpBuilder &b;
  IRMapping &mapping;
  Value threadId;
  int64_t blockSize;
  /// Per-block partials buffers (the grid's allocations) whose reductions
  /// use warp shuffles.
  PartialsWidths partialsWidths;
  bool pendingBarrier = false;
};

/// The partials buffers of `grid` that warp shuffles may combine: folded
/// by a loop marked kCombinePartials over 0..threads (a multiple of the
/// warp size, at most the block) from a per-block buffer.
LaunchBodyBuilder::PartialsWidths findWarpReductions(scf::ForallOp grid,
                                                     int64_t blockSize) {
  LaunchBodyBuilder::PartialsWidths found;
  grid.getBody()->walk([&](scf::ForOp loop) {
    auto kind = loop->getAttrOfType<StringAttr>(distribution::kCombinePartials);
    std::optional<int64_t> lb = getConstantIntValue(loop.getLowerBound());
    std::optional<int64_t> ub = getConstantIntValue(loop.getUpperBound());
    std::optional<int64_t> step = getConstantIntValue(loop.getStep());
    if (!kind || !lb || !ub || !step || *lb != 0 || *step != 1 ||
        *ub % kWarpSize != 0 || *ub > blockSize || loop.getNumResults() != 1)
      return;
    for (auto load : loop.getBody()->getOps<memref::LoadOp>())
      if (auto alloc = load.getMemRef().getDefiningOp<memref::AllocOp>();
          alloc && alloc->getBlock() == grid.getBody())
        found[load.getMemRef()] = *ub;
  });
  return found;
}

/// Replaces the block-mapped forall of `kernel` by a gpu.launch.
LogicalResult mapKernelToLaunch(func::FuncOp kernel) {
  SmallVector<scf::ForallOp> grids;
  for (auto forall : kernel.getBody().front().getOps<scf::ForallOp>())
    grids.push_back(forall);
  if (grids.size() != 1)
    return kernel.emitOpError("expected one block-mapped scf.forall (run "
                              "growc-distribute-kernels first)");
  scf::ForallOp grid = grids.front();
  unsigned rank = grid.getRank();
  if (rank > 3 || !grid.getOutputs().empty())
    return grid.emitOpError("a grid has at most 3 dimensions and no outputs");
  SmallVector<int64_t> gridSize(3, 1);
  for (unsigned d = 0; d < rank; ++d) {
    std::optional<int64_t> n = staticTripCount(grid, d);
    if (!n)
      return grid.emitOpError("grid sizes must be static and normalised");
    gridSize[d] = *n;
  }
  // The block is as wide as the widest thread loop; narrower ones are
  // guarded.
  int64_t blockSize = 1;
  SmallVector<memref::AllocOp> shared;
  for (auto alloc : grid.getBody()->getOps<memref::AllocOp>()) {
    if (!alloc.getType().hasStaticShape())
      return alloc.emitOpError("per-block buffers must be static");
    shared.push_back(alloc);
  }
  WalkResult walk =
      grid.getBody()->walk<WalkOrder::PreOrder>([&](scf::ForallOp threads) {
        if (!threads.getMapping())
          return WalkResult::advance();
        std::optional<int64_t> n =
            threads.getRank() == 1 ? staticTripCount(threads, 0) : std::nullopt;
        if (!n) {
          threads.emitOpError(
              "thread loops must be 1-D, static and normalised");
          return WalkResult::interrupt();
        }
        blockSize = std::max(blockSize, *n);
        return WalkResult::skip();
      });
  if (walk.wasInterrupted())
    return failure();
  if (blockSize > 1024)
    return grid.emitOpError("blocks have at most 1024 threads, got ")
           << blockSize;

  OpBuilder b(grid);
  Location loc = grid.getLoc();
  auto cst = [&](int64_t v) -> Value {
    return arith::ConstantIndexOp::create(b, loc, v);
  };
  auto workgroup =
      gpu::AddressSpaceAttr::get(b.getContext(), gpu::AddressSpace::Workgroup);
  auto sharedType = [&](memref::AllocOp alloc) {
    return MemRefType::get(alloc.getType().getShape(),
                           alloc.getType().getElementType(),
                           MemRefLayoutAttrInterface(), workgroup);
  };
  // Per-block buffers up to the static limit are workgroup attributions
  // (static shared memory); beyond it they are views of dynamic shared
  // memory at 16-byte aligned offsets, and the plan's launch says how much
  // the runtime must opt in to.
  SmallVector<int64_t> offsets;
  int64_t sharedBytes = 0;
  for (memref::AllocOp alloc : shared) {
    offsets.push_back(sharedBytes);
    int64_t bytes = alloc.getType().getNumElements() *
                    ((alloc.getType().getElementTypeBitWidth() + 7) / 8);
    sharedBytes += (bytes + 15) / 16 * 16;
  }
  const bool dynamic = sharedBytes > distribution::kSharedMemoryBytes;
  SmallVector<Type> sharedTypes;
  if (!dynamic)
    for (memref::AllocOp alloc : shared)
      sharedTypes.push_back(sharedType(alloc));
  Value dynamicBytes;
  if (dynamic) {
    dynamicBytes =
        arith::ConstantIntOp::create(b, loc, b.getI32Type(), sharedBytes);
    kernel->setAttr(attr::kDynamicSharedBytes,
                    b.getI64IntegerAttr(sharedBytes));
  }
  auto launch = gpu::LaunchOp::create(
      b, loc, cst(gridSize[0]), cst(gridSize[1]), cst(gridSize[2]),
      cst(blockSize), cst(1), cst(1), dynamicBytes,
      /*asyncTokenType=*/nullptr, /*asyncDependencies=*/{}, sharedTypes);
  Block &body = launch.getBody().front();
  b.setInsertionPointToEnd(&body);

  IRMapping mapping;
  gpu::KernelDim3 blockIds = launch.getBlockIds();
  Value ids[3] = {blockIds.x, blockIds.y, blockIds.z};
  for (unsigned d = 0; d < rank; ++d)
    mapping.map(grid.getInductionVar(d), ids[d]);
  if (dynamic) {
    Value base = gpu::DynamicSharedMemoryOp::create(
        b, loc,
        MemRefType::get({ShapedType::kDynamic}, b.getI8Type(),
                        MemRefLayoutAttrInterface(), workgroup));
    for (auto [alloc, offset] : llvm::zip(shared, offsets))
      mapping.map(alloc.getResult(),
                  memref::ViewOp::create(b, loc, sharedType(alloc), base,
                                         cst(offset), ValueRange{}));
  } else {
    for (auto [alloc, attribution] :
         llvm::zip(shared, launch.getWorkgroupAttributions()))
      mapping.map(alloc.getResult(), attribution);
  }
  // Constants and reshapes used inside are rematerialised in the launch, so
  // that only buffers cross into the kernel, each once (two reshapes of
  // one buffer would otherwise be two parameters for the same pointer).
  std::function<void(Value)> rematerialise = [&](Value value) {
    Operation *def = value.getDefiningOp();
    if (!def || grid->isAncestor(def) || mapping.contains(value) ||
        !isa<arith::ConstantOp, memref::CollapseShapeOp, memref::ExpandShapeOp>(
            def))
      return;
    for (Value operand : def->getOperands())
      rematerialise(operand);
    b.clone(*def, mapping);
  };
  grid.getBody()->walk([&](Operation *nested) {
    for (Value operand : nested->getOperands())
      rematerialise(operand);
  });
  LaunchBodyBuilder builder(b, mapping, launch.getThreadIds().x, blockSize,
                            findWarpReductions(grid, blockSize));
  if (failed(builder.cloneBlock(*grid.getBody(), /*top=*/true)))
    return failure();
  gpu::TerminatorOp::create(b, loc);
  grid.erase();
  return success();
}

/// Divisions become multiplications where the math allows, as CUDA code
/// writes them: `x / sqrt(y)` (RMSNorm's scale) is `x * rsqrt(y)`
/// (rsqrt.approx, like the sqrt.approx it replaces, instead of a
/// full-precision div.rn after it), and a division by a value that a loop
/// does not change (a row's sum or norm) is a multiplication by its
/// reciprocal computed once before the loop.
void useReciprocals(func::FuncOp kernel) {
  SmallVector<arith::DivFOp> divisions;
  kernel.walk([&](arith::DivFOp div) { divisions.push_back(div); });
  for (arith::DivFOp div : divisions) {
    OpBuilder b(div);
    Location loc = div.getLoc();
    Value divisor = div.getRhs();
    if (auto sqrt = divisor.getDefiningOp<math::SqrtOp>()) {
      Value rsqrt = math::RsqrtOp::create(b, loc, sqrt.getOperand());
      div.replaceAllUsesWith(
          arith::MulFOp::create(b, loc, div.getLhs(), rsqrt).getResult());
      div.erase();
      if (sqrt->use_empty())
        sqrt.erase();
      continue;
    }
    auto loop = div->getParentOfType<scf::ForOp>();
    if (!loop || !isa<FloatType>(divisor.getType()) ||
        !loop.isDefinedOutsideOfLoop(divisor) ||
        matchPattern(div.getLhs(), m_OneFloat()))
      continue;
    b.setInsertionPoint(loop);
    Value one = arith::ConstantOp::create(
        b, loc, b.getFloatAttr(divisor.getType(), 1.0));
    Value reciprocal = arith::DivFOp::create(b, loc, one, divisor);
    b.setInsertionPoint(div);
    div.replaceAllUsesWith(
        arith::MulFOp::create(b, loc, div.getLhs(), reciprocal).getResult());
    div.erase();
  }
}

std::string findLibdevice(StringRef explicitPath) {
  if (!explicitPath.empty())
    return explicitPath.str();
  SmallVector<std::string> roots;
  if (std::optional<std::string> home = llvm::sys::Process::GetEnv("CUDA_HOME"))
    roots.push_back(*home);
  if (std::optional<std::string> path = llvm::sys::Process::GetEnv("CUDA_PATH"))
    roots.push_back(*path);
  roots.push_back("/usr/local/cuda");
  for (const std::string &root : roots) {
    llvm::SmallString<128> candidate(root);
    llvm::sys::path::append(candidate, "nvvm", "libdevice", "libdevice.10.bc");
    if (llvm::sys::fs::exists(candidate))
      return std::string(candidate);
  }
  return "";
}

} // namespace

llvm::Expected<PtxArtifact>
growc::compileKernelsToPtx(ModuleOp module, const PtxOptions &options) {
  MLIRContext *ctx = module.getContext();
  std::string libdevice = findLibdevice(options.libdevicePath);
  if (libdevice.empty() || !llvm::sys::fs::exists(libdevice))
    return fail(
        "libdevice.10.bc not found" +
        (libdevice.empty() ? std::string() : " at '" + libdevice + "'") +
        ": the kernels' math (exp, sqrt, sin, cos, pow) links it from "
        "the CUDA toolkit; set CUDA_HOME or --libdevice");

  SmallVector<func::FuncOp> kernels;
  for (auto func : module.getOps<func::FuncOp>()) {
    if (!func->hasAttr(attr::kKernel))
      return fail("only kernels may be left for the GPU backend, found @" +
                  func.getSymName());
    kernels.push_back(func);
  }
  for (func::FuncOp kernel : kernels) {
    if (failed(mapKernelToLaunch(kernel)))
      return fail("cannot map kernel @" + kernel.getSymName() +
                  " to a GPU launch");
    useReciprocals(kernel);
  }
  module->setAttr(gpu::GPUDialect::getContainerModuleAttrName(),
                  UnitAttr::get(ctx));
  {
    PassManager pm(ctx);
    pm.addPass(createGpuKernelOutliningPass());
    if (failed(pm.run(module)))
      return fail("outlining the launches failed");
  }

  // One gpu.module for all kernels, each gpu.func named after its kernel;
  // read each launch's configuration and arguments for the plan.
  OpBuilder b(ctx);
  b.setInsertionPointToEnd(module.getBody());
  auto target = gpu::GPUModuleOp::create(b, module.getLoc(), "growc_kernels");
  PtxArtifact artifact;
  for (func::FuncOp kernel : kernels) {
    SmallVector<gpu::LaunchFuncOp> launches;
    kernel.walk([&](gpu::LaunchFuncOp op) { launches.push_back(op); });
    if (launches.size() != 1)
      return fail("kernel @" + kernel.getSymName() + " has " +
                  llvm::Twine(launches.size()) + " launches, expected one");
    gpu::LaunchFuncOp launchFunc = launches.front();
    auto outlined = SymbolTable::lookupNearestSymbolFrom<gpu::GPUFuncOp>(
        module, launchFunc.getKernel());
    if (!outlined)
      return fail("outlined function of @" + kernel.getSymName() + " missing");
    auto oldModule = outlined->getParentOfType<gpu::GPUModuleOp>();
    // Shared buffers start 16-byte aligned: LLVM's load-store vectoriser
    // merges a thread's accesses to consecutive elements (a column sum's
    // accumulator) into 128-bit ones, which need it.
    for (unsigned i = 0; i < outlined.getNumWorkgroupAttributions(); ++i)
      outlined.setWorkgroupAttributionAttr(
          i, LLVM::LLVMDialect::getAlignAttrName(), b.getI64IntegerAttr(16));
    outlined->moveBefore(target.getBody(), target.getBody()->end());
    SymbolTable::setSymbolName(outlined, kernel.getSymName());
    oldModule.erase();

    GpuLaunch launch;
    launch.name = kernel.getSymName().str();
    if (auto kind = kernel->getAttrOfType<StringAttr>(attr::kKernelKind))
      launch.kind = kind.str();
    if (auto bytes =
            kernel->getAttrOfType<IntegerAttr>(attr::kDynamicSharedBytes))
      launch.dynamicSharedBytes = bytes.getInt();
    gpu::KernelDim3 grid = launchFunc.getGridSizeOperandValues();
    gpu::KernelDim3 block = launchFunc.getBlockSizeOperandValues();
    Value sizes[6] = {grid.x, grid.y, grid.z, block.x, block.y, block.z};
    for (unsigned i = 0; i < 6; ++i) {
      std::optional<int64_t> n = getConstantIntValue(sizes[i]);
      if (!n)
        return fail("launch sizes of @" + kernel.getSymName() +
                    " are not constants");
      (i < 3 ? launch.grid[i] : launch.block[i - 3]) = *n;
    }
    for (Value operand : launchFunc.getKernelOperands()) {
      auto arg = dyn_cast<BlockArgument>(viewedBuffer(operand));
      if (!arg || arg.getOwner() != &kernel.getBody().front()) {
        std::string value;
        llvm::raw_string_ostream os(value);
        operand.print(os);
        return fail("kernel @" + kernel.getSymName() +
                    " passes a value that is not one of its buffers to the "
                    "GPU: " +
                    value);
      }
      launch.params.push_back(arg.getArgNumber());
    }
    artifact.launches.push_back(std::move(launch));
  }
  for (func::FuncOp kernel : kernels)
    kernel.erase();

  DialectRegistry registry;
  registerBuiltinDialectTranslation(registry);
  registerLLVMDialectTranslation(registry);
  registerNVVMDialectTranslation(registry);
  registerGPUDialectTranslation(registry);
  NVVM::registerNVVMTargetInterfaceExternalModels(registry);
  ctx->appendDialectRegistry(registry);
  PassManager pm(ctx);
  buildNvvmPipeline(pm, {options.chip, options.features, libdevice});
  if (failed(pm.run(module)))
    return fail("lowering the kernels to PTX failed");
  // Dynamic shared memory is a zero-sized shared array that the launch
  // sizes; with internal linkage NVPTX demotes it into the one kernel using
  // it as a 1-byte static variable, so it is made an external declaration
  // (`.extern .shared ... []`), as CUDA C++'s `extern __shared__` is.
  module.walk([](LLVM::GlobalOp global) {
    if (global.getAddrSpace() == 3 &&
        global.getSymName().starts_with("__dynamic_shmem__"))
      global.setLinkage(LLVM::Linkage::External);
  });
  PassManager toBinary(ctx);
  GpuModuleToBinaryPassOptions isa;
  isa.compilationTarget = "isa";
  toBinary.addPass(createGpuModuleToBinaryPass(isa));
  if (failed(toBinary.run(module)))
    return fail("lowering the kernels to PTX failed");

  gpu::BinaryOp binary;
  module.walk([&](gpu::BinaryOp op) { binary = op; });
  if (!binary || binary.getObjects().size() != 1)
    return fail("no PTX produced");
  auto object = cast<gpu::ObjectAttr>(binary.getObjects()[0]);
  artifact.ptx = object.getObject().str();
  size_t unresolved = artifact.ptx.find("__nv_");
  if (unresolved != std::string::npos) {
    size_t end = artifact.ptx.find_first_of("( ;\n", unresolved);
    return fail("the PTX still calls " +
                artifact.ptx.substr(unresolved, end - unresolved) +
                ": libdevice was not linked");
  }
  return artifact;
}

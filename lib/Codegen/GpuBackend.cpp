//===- GpuBackend.cpp - distributed kernels to PTX for sm_90 -------------===//
//
// Kernels shaped by growc-distribute-kernels (one block-mapped scf.forall
// holding thread-mapped scf.foralls) become one gpu.launch each: block ids
// and thread ids replace the loop indices, sibling thread loops are
// separated by gpu.barrier, per-block buffers become workgroup (shared)
// memory. The launches are outlined into one gpu.module, lowered to NVVM
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
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/IR/IRMapping.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Dialect/GPU/Transforms/Passes.h"
#include "mlir/Target/LLVM/NVVM/Target.h"
#include "mlir/Target/LLVMIR/Dialect/Builtin/BuiltinToLLVMIRTranslation.h"
#include "mlir/Target/LLVMIR/Dialect/GPU/GPUToLLVMIRTranslation.h"
#include "mlir/Target/LLVMIR/Dialect/LLVMIR/LLVMToLLVMIRTranslation.h"
#include "mlir/Target/LLVMIR/Dialect/NVVM/NVVMToLLVMIRTranslation.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/Process.h"

using namespace mlir;
using namespace growc;

namespace {

llvm::Error fail(const llvm::Twine &message) {
  return llvm::createStringError(llvm::inconvertibleErrorCode(),
                                 "nvptx backend: " + message);
}

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
  LaunchBodyBuilder(OpBuilder &b, IRMapping &mapping, Value threadId,
                    int64_t blockSize)
      : b(b), mapping(mapping), threadId(threadId), blockSize(blockSize) {}

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

  void cloneThreadLoop(scf::ForallOp threads) {
    if (pendingBarrier)
      barrier();
    Location loc = threads.getLoc();
    int64_t count = *staticTripCount(threads, 0);
    OpBuilder::InsertionGuard guard(b);
    if (count < blockSize) {
      Value bound = arith::ConstantIndexOp::create(b, loc, count);
      Value active = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ult,
                                           threadId, bound);
      auto ifOp = scf::IfOp::create(b, loc, active, /*withElse=*/false);
      b.setInsertionPoint(ifOp.thenBlock()->getTerminator());
    }
    mapping.map(threads.getInductionVar(0), threadId);
    for (Operation &nested : threads.getBody()->without_terminator())
      b.clone(nested, mapping);
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
  bool pendingBarrier = false;
};

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
  LaunchBodyBuilder builder(b, mapping, launch.getThreadIds().x, blockSize);
  if (failed(builder.cloneBlock(*grid.getBody(), /*top=*/true)))
    return failure();
  gpu::TerminatorOp::create(b, loc);
  grid.erase();
  return success();
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
  for (func::FuncOp kernel : kernels)
    if (failed(mapKernelToLaunch(kernel)))
      return fail("cannot map kernel @" + kernel.getSymName() +
                  " to a GPU launch");
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

//===- KernelOutlining.cpp - groups of host ops into kernels --------------===//
//
// Outlining with deduplication (KernelOutlining.h): what every fusion pass
// needs once it has decided its groups. Kept apart from the decisions so
// that a new fusion pass changes only which ops go together.
//
//===----------------------------------------------------------------------===//

#include "passes/Fusion/KernelOutlining.h"

#include "dialects/Kernel/KernelOps.h"
#include "growc/AttrNames.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/IRMapping.h"
#include "mlir/IR/OperationSupport.h"
#include "mlir/IR/SymbolTable.h"
#include "llvm/ADT/SetVector.h"

using namespace mlir;
using namespace growc;

bool growc::isKernel(func::FuncOp func) {
  return func && func->hasAttr(attr::kKernel);
}

func::FuncOp growc::getCalledKernel(func::CallOp call) {
  auto callee = SymbolTable::lookupNearestSymbolFrom<func::FuncOp>(
      call, call.getCalleeAttr());
  return isKernel(callee) ? callee : nullptr;
}

bool growc::isRematerializable(Operation *op) {
  return isa<arith::ConstantOp, tensor::EmptyOp>(op);
}

void growc::eraseUnusedRematerializable(func::FuncOp host) {
  for (Operation &op :
       llvm::make_early_inc_range(llvm::reverse(host.getBody().front())))
    if (isRematerializable(&op) && op.use_empty())
      op.erase();
}

//===----------------------------------------------------------------------===//
// KernelCache
//===----------------------------------------------------------------------===//

KernelCache::KernelCache(ModuleOp module) : module(module) {
  for (auto func : module.getOps<func::FuncOp>())
    if (isKernel(func))
      kernels.push_back(func);
}

func::FuncOp KernelCache::lookup(func::FuncOp candidate) const {
  // Where the ops came from does not change the code: groups from two
  // layers (or two lines of hand-written IR) share a kernel.
  for (func::FuncOp kernel : kernels)
    if (kernel.getFunctionType() == candidate.getFunctionType() &&
        OperationEquivalence::isRegionEquivalentTo(
            &kernel.getBody(), &candidate.getBody(),
            OperationEquivalence::Flags::IgnoreLocations))
      return kernel;
  return {};
}

void KernelCache::insert(func::FuncOp kernel) {
  // What it computes and its index in the cache ("rmsnorm_3"), the index
  // moved on past names the module already has.
  unsigned index = kernels.size();
  std::string stem = describeKernel(kernel) + "_";
  std::string name = (stem + Twine(index)).str();
  while (SymbolTable::lookupSymbolIn(module, name))
    name = (stem + Twine(++index)).str();
  kernel.setSymName(name);
  kernel->setAttr(attr::kKernel, UnitAttr::get(module.getContext()));
  kernels.push_back(kernel);
}

//===----------------------------------------------------------------------===//
// outlineKernel
//===----------------------------------------------------------------------===//

/// Diagnoses a group outlineKernel cannot outline; success if it can.
static LogicalResult checkGroup(func::FuncOp host,
                                ArrayRef<Operation *> group) {
  if (group.empty())
    return host.emitOpError("cannot outline an empty group of ops");
  if (!host.getBody().hasOneBlock())
    return host.emitOpError("outlining expects a single-block host function");
  Block &body = host.getBody().front();
  for (auto [i, op] : llvm::enumerate(group)) {
    if (op->getBlock() != &body)
      return op->emitOpError("is not an op of the host function's block");
    if (i > 0 && !group[i - 1]->isBeforeInBlock(op))
      return op->emitOpError("is out of order in the group to outline");
    if (op->hasTrait<OpTrait::IsTerminator>())
      return op->emitOpError("is a terminator; it cannot be outlined");
    WalkResult hostStep = op->walk([](Operation *nested) {
      if (!growk::isHostStep(nested))
        return WalkResult::advance();
      nested->emitOpError("is a plan step (HostStepOpInterface); it cannot "
                          "be part of a kernel");
      return WalkResult::interrupt();
    });
    if (hostStep.wasInterrupted())
      return failure();
  }
  return success();
}

FailureOr<func::FuncOp> growc::outlineKernel(func::FuncOp host,
                                             ArrayRef<Operation *> group,
                                             KernelCache &cache) {
  if (failed(checkGroup(host, group)))
    return failure();
  Block &body = host.getBody().front();
  llvm::SmallPtrSet<Operation *, 32> inGroup(group.begin(), group.end());
  // Inputs: values from outside the group (constants excepted); outputs:
  // results used outside it.
  llvm::SetVector<Value> inputs;
  llvm::SetVector<Operation *> cloned;
  SmallVector<Value> outputs;
  for (Operation *op : group) {
    op->walk([&](Operation *nested) {
      for (Value operand : nested->getOperands()) {
        Operation *def = operand.getDefiningOp();
        if (def && inGroup.contains(def))
          continue;
        if (!def &&
            operand.getParentRegion()->isAncestor(nested->getParentRegion()) &&
            operand.getParentRegion() != &host.getBody())
          continue; // defined inside the group's regions
        if (def && def->getParentRegion() != &host.getBody())
          continue; // defined inside one of the group's ops
        if (def && isRematerializable(def))
          cloned.insert(def);
        else
          inputs.insert(operand);
      }
    });
    for (Value result : op->getResults())
      if (llvm::any_of(result.getUsers(), [&](Operation *user) {
            return !inGroup.contains(body.findAncestorOpInBlock(*user));
          }))
        outputs.push_back(result);
  }
  // The call replaces the group at its first op, so it can only read what
  // is defined before that.
  for (Value input : inputs)
    if (Operation *def = input.getDefiningOp();
        def && !def->isBeforeInBlock(group.front()))
      return def->emitOpError("is read by the group to outline but defined "
                              "after its first op");

  ModuleOp module = cache.getModule();
  OpBuilder builder(module.getContext());
  builder.setInsertionPointToEnd(module.getBody());
  Location loc = group.front()->getLoc();
  auto type = builder.getFunctionType(
      llvm::map_to_vector(inputs, [](Value v) { return v.getType(); }),
      llvm::map_to_vector(outputs, [](Value v) { return v.getType(); }));
  auto kernel = func::FuncOp::create(builder, loc, "kernel", type);
  Block *entry = kernel.addEntryBlock();
  IRMapping mapping;
  for (auto [input, arg] : llvm::zip(inputs, entry->getArguments()))
    mapping.map(input, arg);
  builder.setInsertionPointToStart(entry);
  for (Operation *op : cloned)
    builder.clone(*op, mapping);
  for (Operation *op : group)
    builder.clone(*op, mapping);
  func::ReturnOp::create(
      builder, loc,
      llvm::map_to_vector(outputs, [&](Value v) { return mapping.lookup(v); }));

  if (func::FuncOp existing = cache.lookup(kernel)) {
    kernel.erase();
    kernel = existing;
  } else {
    cache.insert(kernel);
  }

  builder.setInsertionPoint(group.front());
  auto call = func::CallOp::create(builder, loc, kernel, inputs.getArrayRef());
  for (auto [output, result] : llvm::zip(outputs, call.getResults()))
    output.replaceAllUsesWith(result);
  for (Operation *op : llvm::reverse(group))
    op->erase();
  return kernel;
}

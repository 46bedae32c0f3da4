//===- AppendOptimizerStep.cpp - a grad function becomes a train step -----===//
//
// The optimizer as a pass of its own over the grad graph's interface (the
// loss and one gradient per parameter, named by growc.* attributes), so
// that it does not care how the gradients were built: accumulation over
// micro-batches, the data-parallel mean, then the global-norm clip and
// AdamW as one in-place growk.adamw over every trained parameter, appended
// before the return, with the moments (and sums) as state the step reads
// and returns.
//
//===----------------------------------------------------------------------===//

#include "passes/Training/Passes.h"

#include "growc/AttrNames.h"
#include "passes/Training/OptimizerOps.h"

#include "mlir/Dialect/Tensor/IR/Tensor.h"

namespace growc {
#define GEN_PASS_DEF_APPENDOPTIMIZERSTEP
#include "passes/Training/Passes.h.inc"
} // namespace growc

using namespace mlir;
using namespace growc;

namespace {

/// Whether `block` is rows [first, first + n) of its source, whole rows.
bool isRowBlockAt(tensor::ExtractSliceOp block, int64_t first) {
  auto source = block.getSourceType();
  return source.getRank() == 2 && block.hasUnitStride() &&
         block.getStaticOffsets() == ArrayRef<int64_t>{first, 0} &&
         block.getType().getRank() == 2 &&
         block.getStaticSizes()[1] == source.getDimSize(1);
}

struct AppendOptimizerStepPass
    : growc::impl::AppendOptimizerStepBase<AppendOptimizerStepPass> {
  using AppendOptimizerStepBase::AppendOptimizerStepBase;

  LogicalResult append(func::FuncOp func);

  void runOnOperation() override {
    if (accumulate < 1) {
      getOperation().emitError("growc-append-optimizer-step: accumulate must "
                               "be at least 1, got ")
          << int64_t(accumulate);
      return signalPassFailure();
    }
    for (auto func : getOperation().getOps<func::FuncOp>()) {
      auto graph = func->getAttrOfType<StringAttr>(attr::kGraph);
      if (graph && graph.getValue() == "grad" && failed(append(func)))
        return signalPassFailure();
    }
  }
};

/// The name a checkpoint gives a parameter's optimizer state
/// (docs/checkpoints.md).
std::string stateName(StringRef kind, StringRef param) {
  return ("optimizer." + kind + "." + param).str();
}

LogicalResult AppendOptimizerStepPass::append(func::FuncOp func) {
  MLIRContext *ctx = func.getContext();
  auto paramNames = func->getAttrOfType<ArrayAttr>(attr::kParamNames);
  auto paramSources = func->getAttrOfType<ArrayAttr>(attr::kParamSources);
  auto paramCopies = func->getAttrOfType<ArrayAttr>(attr::kParamCopies);
  auto inputNames = func->getAttrOfType<ArrayAttr>(attr::kInputNames);
  auto outputNames = func->getAttrOfType<ArrayAttr>(attr::kOutputNames);
  auto allStrings = [](ArrayAttr names) {
    return llvm::all_of(names, llvm::IsaPred<StringAttr>);
  };
  if (!paramNames || !paramSources || !paramCopies || !inputNames ||
      !outputNames || !allStrings(paramNames) || !allStrings(outputNames))
    return func.emitOpError("a grad function records ")
           << attr::kParamNames << ", " << attr::kParamSources << ", "
           << attr::kParamCopies << ", " << attr::kInputNames << " and "
           << attr::kOutputNames << " (names as strings)";
  size_t n = paramNames.size();
  // Frozen parameters (growc-freeze-parameters) are inputs only: no
  // gradient, no state, no update. `trained` lists the others, in order.
  auto frozen = func->getAttrOfType<ArrayAttr>(attr::kParamFrozen);
  if (frozen &&
      (frozen.size() != n || !llvm::all_of(frozen, llvm::IsaPred<BoolAttr>)))
    return func.emitOpError()
           << attr::kParamFrozen << " must hold one boolean per parameter";
  SmallVector<size_t> trained;
  for (size_t i = 0; i < n; ++i)
    if (!frozen || !cast<BoolAttr>(frozen[i]).getValue())
      trained.push_back(i);
  if (trained.empty())
    return func.emitOpError("every parameter is frozen: a train step would "
                            "update nothing");
  size_t t = trained.size();
  if (inputNames != ArrayAttr::get(ctx, {StringAttr::get(ctx, "tokens"),
                                         StringAttr::get(ctx, "targets")}) ||
      func.getNumArguments() != 2 + n)
    return func.emitOpError("a grad function takes tokens, targets and the ")
           << n << " parameters of " << attr::kParamNames;
  auto nameOf = [&](size_t i) {
    return cast<StringAttr>(paramNames[i]).getValue();
  };
  SmallVector<std::string> expectedOutputs = {"loss"};
  for (size_t i : trained)
    expectedOutputs.push_back(("grad." + nameOf(i)).str());
  if (func.getNumResults() != 1 + t ||
      llvm::map_to_vector(outputNames.getAsValueRange<StringAttr>(),
                          [](StringRef s) { return s.str(); }) !=
          expectedOutputs)
    return func.emitOpError("a grad function returns 'loss', then 'grad.<p>' "
                            "for each parameter p of ")
           << attr::kParamNames << ", in order"
           << (frozen ? " (none for a frozen one)" : "");
  auto scalarType = RankedTensorType::get({1}, Float32Type::get(ctx));
  if (func.getResultTypes()[0] != scalarType)
    return func.emitOpError("the loss must be ") << scalarType;
  for (auto [j, i] : llvm::enumerate(trained))
    if (func.getResultTypes()[1 + j] != func.getArgumentTypes()[2 + i])
      return func.emitOpError("the gradient of '")
             << paramNames[i] << "' must have the parameter's type";

  // The step's inputs: lr, step (and apply) after the targets; each state
  // kind for every trained parameter after the parameters.
  bool accumulating = accumulate > 1;
  SmallVector<StringRef> stateKinds = {"exp_avg", "exp_avg_sq"};
  if (accumulating)
    stateKinds.push_back("grad_sum");
  Location loc = func.getLoc();
  SmallVector<Type> paramTypes;
  for (size_t i : trained)
    paramTypes.push_back(func.getArgumentTypes()[2 + i]);
  SmallVector<unsigned> argIndices;
  SmallVector<Type> argTypes;
  for (int i = 0, e = accumulating ? 3 : 2; i < e; ++i) {
    argIndices.push_back(2);
    argTypes.push_back(scalarType);
  }
  for (size_t k = 0; k < stateKinds.size(); ++k)
    for (Type type : paramTypes) {
      argIndices.push_back(2 + n);
      argTypes.push_back(type);
    }
  if (failed(func.insertArguments(argIndices, argTypes,
                                  SmallVector<DictionaryAttr>(argTypes.size()),
                                  SmallVector<Location>(argTypes.size(), loc))))
    return failure();

  Block &entry = func.getBody().front();
  Value lr = entry.getArgument(2), step = entry.getArgument(3);
  Value apply = accumulating ? entry.getArgument(4) : Value();
  unsigned firstParam = accumulating ? 5 : 4;
  auto stateArg = [&](size_t kind, size_t j) {
    return entry.getArgument(firstParam + n + kind * t + j);
  };
  auto ret = cast<func::ReturnOp>(entry.getTerminator());
  Value loss = ret.getOperand(0);
  SmallVector<Value> grads(ret.getOperands().drop_front());

  OpBuilder builder(ret);
  OptimizerBuilder ob(builder, loc);
  // Gradient accumulation: this micro-batch's share joins the running sum,
  // which is what the optimizer sees (the optimizer step resets the sums).
  if (accumulating)
    for (size_t j = 0; j < t; ++j) {
      // The sums are whole buffers the accumulation kernels read; a fused
      // projection's gradient is a view of a shared one.
      if (grads[j].getDefiningOp<tensor::ExtractSliceOp>())
        return emitError(loc)
               << "gradient accumulation needs unfused projections: lower "
                  "the model with accumulate="
               << int64_t(accumulate) << " too (growc-lower-model-to-tensors)";
      grads[j] = ob.accumulateGrad(stateArg(2, j), grads[j], accumulate);
    }
  // Data parallelism: each rank's gradients (with accumulation, the sums,
  // on the applying micro-batch only) become their mean over the ranks
  // before anything reads them: a plan step of its own, a no-op in a
  // one-process run (docs/training.md).
  // The gradients of fused projections are blocks of rows that together
  // tile one GEMM's output (LayerOp's VJP): that output is reduced once,
  // in place as a whole buffer, and the blocks are taken of the result.
  SmallVector<tensor::ExtractSliceOp> unreducedBlocks;
  auto reduce = [&](Value grad) {
    return growk::AllReduceOp::create(builder, loc, grad.getType(), grad, apply,
                                      builder.getStringAttr("mean"))
        .getResult();
  };
  for (size_t j = 0; j < grads.size();) {
    SmallVector<tensor::ExtractSliceOp> blocks;
    int64_t covered = 0;
    for (size_t k = j; k < grads.size(); ++k) {
      auto block = grads[k].getDefiningOp<tensor::ExtractSliceOp>();
      if (!block || !isRowBlockAt(block, covered) ||
          (!blocks.empty() && block.getSource() != blocks[0].getSource()))
        break;
      blocks.push_back(block);
      covered += block.getType().getDimSize(0);
    }
    if (blocks.empty() || covered != blocks[0].getSourceType().getDimSize(0)) {
      grads[j] = reduce(grads[j]);
      ++j;
      continue;
    }
    Value whole = reduce(blocks[0].getSource());
    for (tensor::ExtractSliceOp block : blocks)
      grads[j++] = tensor::ExtractSliceOp::create(
          builder, loc, whole, block.getMixedOffsets(), block.getMixedSizes(),
          block.getMixedStrides());
    // The unreduced blocks are read by the return only, which the step
    // replaces below; erased, they cannot become a kernel of views.
    for (tensor::ExtractSliceOp block : blocks)
      if (llvm::all_of(block->getUsers(), llvm::IsaPred<func::ReturnOp>))
        unreducedBlocks.push_back(block);
  }
  // A non-finite loss or gradient norm skips the update, so that a bad step
  // never reaches the parameters or moments, and says so in `nonfinite`
  // for the loop to stop or count. The flag must be the same on every
  // rank: the norm already is (the gradients were reduced); each rank's
  // loss flag is summed over the ranks like the gradients.
  Value lossNonfinite =
      growk::AllReduceOp::create(builder, loc, scalarType, ob.nonfinite(loss),
                                 apply, builder.getStringAttr("sum"))
          .getResult();
  // Clip by the global norm, then one AdamW step (SPEC.md §3), of every
  // trained parameter at once and in place: one plan step over the flat
  // regions of the parameters, gradients and state (docs/training.md).
  // The norm is also an output, for the metrics: what clip_grad_norm_
  // returns, of the reduced gradients (so every rank reports the same) and
  // with accumulation of the whole sum on the applying micro-batch.
  SmallVector<Value> params, avgs, avgSqs, sums;
  for (auto [j, i] : llvm::enumerate(trained)) {
    params.push_back(entry.getArgument(firstParam + i));
    avgs.push_back(stateArg(0, j));
    avgSqs.push_back(stateArg(1, j));
    if (accumulating)
      sums.push_back(stateArg(2, j));
  }
  // The norm and the flag are fresh [1] tensors the step writes.
  auto scalarInit = [&]() -> Value {
    return tensor::EmptyOp::create(builder, loc, scalarType.getShape(),
                                   scalarType.getElementType());
  };
  auto adamw = growk::AdamWOp::create(
      builder, loc, params, grads, avgs, avgSqs, sums,
      /*bf16Params=*/ValueRange(), lr, step, apply, lossNonfinite, scalarInit(),
      scalarInit(), builder.getF64FloatAttr(kAdamBeta1),
      builder.getF64FloatAttr(kAdamBeta2), builder.getF64FloatAttr(kAdamEps),
      builder.getF64FloatAttr(kAdamWeightDecay),
      builder.getF64FloatAttr(maxGradNorm));
  SmallVector<Value> results = {loss, adamw.getNonfinite(),
                                adamw.getGradNorm()};
  llvm::append_range(results, adamw.getNewParams());
  llvm::append_range(results, adamw.getNewExpAvg());
  llvm::append_range(results, adamw.getNewExpAvgSq());
  llvm::append_range(results, adamw.getNewGradSums());
  ret->setOperands(results);
  for (tensor::ExtractSliceOp block : unreducedBlocks)
    if (block->use_empty())
      block.erase();
  func.setFunctionType(
      FunctionType::get(ctx, func.getArgumentTypes(), TypeRange(results)));

  // The interface of a train step (docs/plan.md): the state is named like
  // the parameters and joins them in the checkpoint.
  SmallVector<Attribute> names(paramNames.getValue()),
      sources(paramSources.getValue()), copies(paramCopies.getValue()),
      outputs = {StringAttr::get(ctx, "loss"),
                 StringAttr::get(ctx, "nonfinite"),
                 StringAttr::get(ctx, "grad_norm")};
  SmallVector<Attribute> frozenFlags;
  if (frozen)
    frozenFlags.assign(frozen.begin(), frozen.end());
  for (size_t i : trained)
    outputs.push_back(paramNames[i]);
  for (StringRef kind : stateKinds)
    for (size_t i : trained) {
      auto name = StringAttr::get(ctx, stateName(kind, nameOf(i)));
      names.push_back(name);
      sources.push_back(name);
      copies.push_back(BoolAttr::get(ctx, false));
      if (frozen)
        frozenFlags.push_back(BoolAttr::get(ctx, false));
      outputs.push_back(name);
    }
  func->setAttr(attr::kParamNames, ArrayAttr::get(ctx, names));
  func->setAttr(attr::kParamSources, ArrayAttr::get(ctx, sources));
  func->setAttr(attr::kParamCopies, ArrayAttr::get(ctx, copies));
  if (frozen)
    func->setAttr(attr::kParamFrozen, ArrayAttr::get(ctx, frozenFlags));
  func->setAttr(attr::kOutputNames, ArrayAttr::get(ctx, outputs));
  func->setAttr(attr::kGraph, StringAttr::get(ctx, "train"));
  SmallVector<StringRef> inputs = {"tokens", "targets", "lr", "step"};
  if (accumulating) {
    inputs.push_back("apply");
    func->setAttr(attr::kMicroBatches, builder.getI64IntegerAttr(accumulate));
  }
  func->setAttr(attr::kInputNames, builder.getStrArrayAttr(inputs));
  return success();
}

} // namespace

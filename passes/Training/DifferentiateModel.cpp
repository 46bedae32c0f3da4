//===- DifferentiateModel.cpp - the reverse pass over VJP rules -----------===//
//
// Reverse mode at the model level: the grow ops' VJP rules
// (grow::VjpOpInterface) are written against the model's values and
// parameters; this pass gives them the forward's tensors, from the
// growk.forward_tape the forward lowering left, and the tensor-level rules
// of ModelTensorBuilder (grow::VjpContext), and builds the backward where
// the tape is: after the forward, before the return.
//
//===----------------------------------------------------------------------===//

#include "passes/Training/Passes.h"

#include "dialects/Grow/Vjp.h"
#include "growc/AttrNames.h"
#include "passes/Lowering/TensorOps.h"

#include "llvm/ADT/StringMap.h"

namespace growc {
#define GEN_PASS_DEF_DIFFERENTIATEMODEL
#include "passes/Training/Passes.h.inc"
} // namespace growc

using namespace mlir;
using namespace growc;
using namespace growc::grow;

namespace {

/// What the rules read, as the tape recorded it, and what they produce.
class TapeVjpContext : public VjpContext {
public:
  TapeVjpContext(ModelTensorBuilder &builder, Value tokens, Value targets,
                 Value lossLogits)
      : fb(builder), tokenInput(tokens), targetInput(targets),
        lossLogits(lossLogits) {}

  Value forward(Value modelValue) override {
    return lowered.lookup(modelValue);
  }
  const LayerTape *layerTape(Operation *layer) override {
    auto it = tapes.find(layer);
    return it == tapes.end() ? nullptr : &it->second;
  }
  Value param(StringRef name) override { return params.lookup(name); }
  Value tokens() override { return tokenInput; }
  Value targets() override { return targetInput; }

  void addCotangent(Value modelValue, Value cotangent) override {
    Value &slot = cotangents[modelValue];
    slot = slot ? fb.add(slot, cotangent) : cotangent;
  }
  void addParamGrad(StringRef name, Value grad) override {
    Value &slot = grads[name];
    if (!slot) {
      slot = grad;
      return;
    }
    // A tied table's embedding gradient (the atomic form) adds its rows
    // into the LM head's weight gradient instead of zeros: no sum kernel.
    Value sum = fb.accumulateEmbedGrad(grad, slot);
    slot = sum ? sum : fb.add(slot, grad);
  }
  void setLoss(Value value) override { loss = value; }
  bool isLossLogits(Value modelValue) override {
    return modelValue == lossLogits;
  }

  Value add(Value lhs, Value rhs) override { return fb.add(lhs, rhs); }
  Value matmulInputGrad(Value dy, Value weight, Value acc) override {
    return fb.matmulInputGrad(dy, weight, acc);
  }
  Value matmulWeightGrad(Value dy, Value x) override {
    return fb.matmulWeightGrad(dy, x);
  }
  std::pair<Value, Value> rmsNormGrad(Value x, Value weight, double scale,
                                      Value dy, Value residual) override {
    return fb.rmsNormGrad(x, weight, scale, dy, residual);
  }
  Value ropeGrad(Value dy, int64_t heads) override {
    return fb.ropeGrad(dy, heads);
  }
  std::pair<Value, Value> swigluGrad(Value gate, Value up, Value dy) override {
    return fb.swigluGrad(gate, up, dy);
  }
  Value concatRows(ValueRange weights) override {
    return fb.concatRows(weights);
  }
  Value rowBlock(Value x, int64_t first, int64_t count) override {
    return fb.rowBlock(x, first, count);
  }
  Value swigluHalvesGrad(Value gateUp, Value dy) override {
    return fb.swigluHalvesGrad(gateUp, dy);
  }
  Value qkvGrad(Value dqRoped, Value dkRoped, Value dv) override {
    return fb.qkvGrad(dqRoped, dkRoped, dv);
  }
  std::tuple<Value, Value, Value> attentionGrad(Value q, Value k, Value v,
                                                Value o, Value dout) override {
    return fb.attentionGrad(q, k, v, o, dout);
  }
  Value embedGrad(Value tokens, Value dy) override {
    return fb.embedGrad(tokens, dy);
  }
  std::tuple<Value, Value, Value> crossEntropyGrad(Value normed, Value weight,
                                                   Value targets) override {
    ModelTensorBuilder::HeadLoss head =
        fb.headCrossEntropy(normed, weight, targets, /*withGrads=*/true);
    return {head.loss, head.dnormed, head.dweight};
  }

  /// The cotangent reaching a model value so far (null if none).
  Value cotangentOf(Value modelValue) const {
    return cotangents.lookup(modelValue);
  }

  // Filled from the tape and the function's arguments before the walk.
  DenseMap<Value, Value> lowered; ///< model value -> [B·T, F] tensor
  DenseMap<Operation *, LayerTape> tapes;
  llvm::StringMap<Value> params;
  // Built by the walk.
  llvm::StringMap<Value> grads;
  Value loss;

private:
  ModelTensorBuilder &fb;
  Value tokenInput, targetInput, lossLogits;
  DenseMap<Value, Value> cotangents;
};

struct DifferentiateModelPass
    : growc::impl::DifferentiateModelBase<DifferentiateModelPass> {
  using DifferentiateModelBase::DifferentiateModelBase;
  LogicalResult differentiate(growk::ForwardTapeOp tape);

  void runOnOperation() override {
    SmallVector<growk::ForwardTapeOp> tapes;
    getOperation().walk(
        [&](growk::ForwardTapeOp tape) { tapes.push_back(tape); });
    for (growk::ForwardTapeOp tape : tapes)
      if (failed(differentiate(tape)))
        return signalPassFailure();
  }
};

LogicalResult DifferentiateModelPass::differentiate(growk::ForwardTapeOp tape) {
  auto func = tape->getParentOfType<func::FuncOp>();
  auto model =
      SymbolTable::lookupNearestSymbolFrom<ModelOp>(tape, tape.getModelAttr());
  if (!func || !model)
    return tape.emitOpError("needs to be in a function of the module that "
                            "holds its grow.model ")
           << tape.getModelAttr();
  auto paramNames = func->getAttrOfType<ArrayAttr>(attr::kParamNames);
  auto inputNames = func->getAttrOfType<ArrayAttr>(attr::kInputNames);
  auto allStrings = [](ArrayAttr names) {
    return llvm::all_of(names, llvm::IsaPred<StringAttr>);
  };
  if (!paramNames || !inputNames || !allStrings(paramNames) ||
      func.getNumArguments() < 2 ||
      func.getNumArguments() != inputNames.size() + paramNames.size())
    return func.emitOpError("a grad function takes its inputs (")
           << attr::kInputNames << ", tokens and targets first) then its "
           << "parameters (" << attr::kParamNames << ")";

  // The model's ops by position, as the tape names them.
  SmallVector<Operation *> body = llvm::map_to_vector(
      model.getBodyBlock(), [](Operation &op) { return &op; });
  ReturnOp ret = model.getReturn();
  LMHeadOp lossHead;
  for (Operation *op : body)
    if (auto head = dyn_cast<LMHeadOp>(op);
        head && !ret.getOutputs().empty() &&
        head.getLogits() == ret.getOutputs()[0])
      lossHead = head;
  if (!lossHead)
    return model.emitOpError("the grad graph needs an LM head whose logits "
                             "are the 'logits' output");

  Block &entry = func.getBody().front();
  ConfigAttr config = model.getConfig();
  auto tokenType = cast<RankedTensorType>(entry.getArgument(0).getType());
  OpBuilder builder(tape);
  ModelTensorBuilder fb(builder, tape.getLoc(), config, tokenType.getDimSize(0),
                        tokenType.getDimSize(1), tape.getKeyBlock(),
                        tape.getLossRows());
  fb.setNormGradColumnSum(normGradColumnSum);
  fb.setAtomicEmbedGrad(atomicEmbedGrad);
  TapeVjpContext vjp(fb, entry.getArgument(0), entry.getArgument(1),
                     lossHead.getLogits());
  for (auto [i, name] :
       llvm::enumerate(paramNames.getAsValueRange<StringAttr>()))
    vjp.params[name] = entry.getArgument(inputNames.size() + i);

  // Read the tape back: forward values, and per op its saved entries.
  DenseMap<Operation *, SmallVector<Value>> saved;
  for (auto [value, position, slot] : llvm::zip_equal(
           tape.getValues(), tape.getPositions(), tape.getSlots())) {
    if (position >= static_cast<int64_t>(body.size()))
      return tape.emitOpError("records a value of op ")
             << position << " of a model with " << body.size() << " ops";
    Operation *op = body[position];
    if (slot >= 0) {
      if (slot >= op->getNumResults())
        return tape.emitOpError("records result ")
               << slot << " of '" << op->getName() << "', which has "
               << op->getNumResults();
      vjp.lowered[op->getResult(slot)] = value;
      continue;
    }
    SmallVector<Value> &entries = saved[op];
    if (static_cast<size_t>(-1 - slot) != entries.size())
      return tape.emitOpError("records the tape of '")
             << op->getName() << "' out of order";
    entries.push_back(value);
  }
  for (auto &[op, entries] : saved) {
    bool isLayer = isa<LayerOp>(op), isEmbed = isa<EmbedOp>(op);
    if ((isLayer && entries.size() != LayerTape::kNumFields) ||
        (isEmbed && entries.size() != 2) || (!isLayer && !isEmbed))
      return tape.emitOpError("records ")
             << entries.size() << " tape entries for '" << op->getName()
             << "'; a layer has " << LayerTape::kNumFields
             << ", the embedding 2 (the rotary tables), other ops none";
    if (isLayer)
      vjp.tapes[op] = LayerTape::fromValues(entries);
    else
      fb.setRopeTables(entries[0], entries[1]);
  }

  // The model's ops last to first, each differentiated by its VJP rule from
  // the cotangents of its results. The seed is the loss head: its rule
  // computes the mean cross-entropy and its gradient.
  for (Operation *op : llvm::reverse(body)) {
    if (isa<ReturnOp, ParamOp>(op))
      continue;
    SmallVector<Value> cotangents;
    bool reached = false;
    for (Value result : op->getResults()) {
      cotangents.push_back(vjp.cotangentOf(result));
      reached |= cotangents.back() || vjp.isLossLogits(result);
    }
    if (!reached)
      continue;
    auto rule = dyn_cast<VjpOpInterface>(op);
    if (!rule)
      return op->emitOpError("has no VJP rule (grow::VjpOpInterface), so the "
                             "grad graph cannot differentiate it");
    if (failed(rule.buildVjp(vjp, cotangents)))
      return failure();
  }

  SmallVector<Value> results = {vjp.loss};
  bool anyFrozen = false;
  // Frozen parameters get no gradient output. Their VJP rules still built
  // one (the rules do not ask), but nothing reads it: the weight-gradient
  // GEMMs, and the whole backward below the lowest trainable parameter,
  // are dead code, dropped below.
  for (ParamOp param : model.getParams()) {
    anyFrozen |= param.getFrozen();
    if (param.getFrozen())
      continue;
    Value grad = vjp.grads.lookup(param.getSymName());
    if (!grad)
      return param.emitOpError("has no gradient: it is not used by the "
                               "differentiated forward");
    results.push_back(grad);
  }
  if (TypeRange(results) != tape.getResultTypes())
    return tape.emitOpError("stands for ")
           << tape.getNumResults() << " outputs, but the model's loss and "
           << "gradients are " << results.size() << " values of other types";
  tape.replaceAllUsesWith(results);
  tape.erase();
  model.erase();
  // Drop what no result reads: with frozen parameters, their weight
  // gradients and the backward below the lowest trainable parameter (last
  // to first, so that a chain goes in one sweep). Before kernel formation,
  // which would keep them alive as kernel calls. A model that trains whole
  // has none, and its graph stays exactly as it was.
  if (anyFrozen)
    for (Operation &op : llvm::make_early_inc_range(llvm::reverse(entry)))
      if (isOpTriviallyDead(&op))
        op.erase();
  return success();
}

} // namespace

//===- LowerModelToTensors.cpp - grow.model to tensor-level IR ------------===//
//
// Builds the forward function of a grow.model at a compiled batch B and
// sequence length T, one function per grow op, from the building blocks of
// TensorOps.h. Activations are [M = B·T, features] matrices so every
// projection is one GEMM (a growk.matmul library call); everything else is
// linalg.generic on tensors.
//
// A grad or train graph's forward also records what the reverse pass reads
// (growk.forward_tape) and keeps the model; growc-differentiate-model and
// growc-append-optimizer-step (passes/Training) build the rest, as this pass
// does itself unless `forward-only` asks it to stop there.
//
//===----------------------------------------------------------------------===//

#include "passes/Lowering/Passes.h"

#include "growc/AttrNames.h"
#include "passes/Lowering/TensorOps.h"
#include "passes/Training/Passes.h"

#include "mlir/Pass/PassManager.h"
#include "llvm/ADT/StringMap.h"
#include "llvm/ADT/TypeSwitch.h"

namespace growc {
#define GEN_PASS_DEF_LOWERMODELTOTENSORS
#include "passes/Lowering/Passes.h.inc"
} // namespace growc

using namespace mlir;
using namespace growc;
using namespace growc::grow;

namespace {

enum class Graph { Forward, Loss, Grad };

/// The lowering of one model into one function.
class ModelLowering {
public:
  ModelLowering(ModelOp model, Graph graph,
                const LowerModelToTensorsOptions &options)
      : model(model), ret(model.getReturn()), graph(graph), options(options),
        builder(model),
        fb(builder, model.getLoc(), model.getConfig(), options.batch,
           options.seq, options.keyBlock, options.lossRows) {}

  LogicalResult lower();

private:
  /// The function with the graph's interface (arguments, results, growc.*
  /// attributes); the insertion point at its entry.
  LogicalResult buildFunction();

  LogicalResult lowerOp(EmbedOp embed);
  LogicalResult lowerOp(RMSNormOp norm);
  LogicalResult lowerOp(LMHeadOp head);
  LogicalResult lowerOp(LayerOp layer);
  LogicalResult lowerOp(ReturnOp);

  /// The tensor of a model value, and for the grad graph its place on the
  /// tape.
  void setLowered(Value modelValue, Value tensor) {
    lowered[modelValue] = tensor;
    if (graph == Graph::Grad)
      record(cast<OpResult>(modelValue).getResultNumber(), tensor);
  }
  /// Entry `slot` of the current op's tape (-1 - slot on growk.forward_tape).
  void save(unsigned slot, Value tensor) { record(-1 - int64_t(slot), tensor); }
  void record(int64_t slot, Value tensor) {
    tapeValues.push_back(tensor);
    tapePositions.push_back(position);
    tapeSlots.push_back(slot);
  }
  Value param(StringRef name) { return paramValues.lookup(name); }

  ModelOp model;
  ReturnOp ret;
  Graph graph;
  const LowerModelToTensorsOptions &options;
  OpBuilder builder;
  ModelTensorBuilder fb;
  func::FuncOp func;
  Value tokens, targets;
  // The depth score's per-row split (I32 [batch]) when a layer skips up to
  // it (skip_split); null otherwise.
  Value split;
  llvm::StringMap<Value> paramValues;
  DenseMap<Value, Value> lowered; // grow value -> [B·T, F] tensor
  // The head whose logits the loss scores: lowered with the loss, chunk by
  // chunk, instead of as one [B·T, V] GEMM.
  LMHeadOp lossHead;
  // The grad graph's tape: the model op (its position in the body) and the
  // result or tape entry of each recorded value.
  int64_t position = 0;
  SmallVector<Value> tapeValues;
  SmallVector<int64_t> tapePositions, tapeSlots;
};

LogicalResult ModelLowering::buildFunction() {
  MLIRContext *ctx = model.getContext();
  ConfigAttr config = model.getConfig();
  int64_t batch = options.batch, seq = options.seq;
  bool lossGraph = graph != Graph::Forward; // all read targets
  auto tokenType =
      RankedTensorType::get({batch, seq}, IntegerType::get(ctx, 32));
  SmallVector<Type> inputTypes = {tokenType};
  if (lossGraph)
    inputTypes.push_back(tokenType); // targets
  // A layer skipped up to a split chosen per row at run time reads it from
  // an input after the tokens; graphs without one keep their interface.
  bool splitInput = llvm::any_of(
      model.getLayers(), [](LayerOp layer) { return layer.getSkipSplit(); });
  if (splitInput && lossGraph)
    return model.emitOpError("skip_split (the per-row split input) is an "
                             "analysis of forward graphs only");
  if (splitInput)
    inputTypes.push_back(
        RankedTensorType::get({batch}, IntegerType::get(ctx, 32)));
  SmallVector<ParamOp> params = model.getParams();
  NamedAttrList paramScales;
  SmallVector<Attribute> paramNames, paramSources, paramCopies, paramFrozen;
  bool anyFrozen = false;
  for (ParamOp param : params) {
    paramSources.push_back(param.getSource() ? param.getSourceAttr()
                                             : param.getSymNameAttr());
    paramCopies.push_back(BoolAttr::get(ctx, param.getCopy()));
    if (param.getZero() || param.getScale())
      paramScales.append(
          param.getSymNameAttr(),
          builder.getF64FloatAttr(
              param.getZero() ? 0.0 : param.getScale()->convertToDouble()));
    paramFrozen.push_back(BoolAttr::get(ctx, param.getFrozen()));
    anyFrozen |= param.getFrozen();
    if (!param.getTensorType().getElementType().isF32())
      return param.emitOpError("lowering needs f32 parameters; '")
             << param.getSymName() << "' is "
             << param.getTensorType().getElementType();
    inputTypes.push_back(param.getTensorType());
    paramNames.push_back(param.getSymNameAttr());
  }
  SmallVector<Type> outputTypes;
  SmallVector<std::string> outputNames;
  if (lossGraph) {
    if (ret.getNames().empty() ||
        cast<StringAttr>(ret.getNames()[0]).getValue() != "logits")
      return ret.emitOpError("a loss graph needs 'logits' as the first "
                             "output");
    if (graph == Graph::Grad && ret.getOutputs().size() != 1)
      return ret.emitOpError("the grad graph differentiates a plain model "
                             "whose only output is 'logits'; analysis "
                             "outputs are not differentiated");
    outputTypes.push_back(RankedTensorType::get({1}, Float32Type::get(ctx)));
    outputNames.push_back("loss");
    // A frozen parameter is an input without a gradient.
    if (graph == Graph::Grad)
      for (ParamOp param : params) {
        if (param.getFrozen())
          continue;
        outputTypes.push_back(param.getTensorType());
        outputNames.push_back(("grad." + param.getSymName()).str());
      }
  } else {
    for (Value output : ret.getOutputs())
      outputTypes.push_back(RankedTensorType::get(
          {batch, seq, cast<RankedTensorType>(output.getType()).getDimSize(2)},
          Float32Type::get(ctx)));
  }

  Location loc = model.getLoc();
  func = func::FuncOp::create(builder, loc, model.getSymName(),
                              builder.getFunctionType(inputTypes, outputTypes));
  func->setAttr(attr::kParamNames, builder.getArrayAttr(paramNames));
  func->setAttr(attr::kParamSources, builder.getArrayAttr(paramSources));
  func->setAttr(attr::kParamCopies, builder.getArrayAttr(paramCopies));
  if (!paramScales.empty())
    func->setAttr(attr::kParamScales, paramScales.getDictionary(ctx));
  // Only where something is frozen, so that a model that trains whole
  // compiles exactly as before.
  if (anyFrozen && graph == Graph::Grad)
    func->setAttr(attr::kParamFrozen, builder.getArrayAttr(paramFrozen));
  func->setAttr(
      attr::kOutputNames,
      lossGraph
          ? builder.getStrArrayAttr(llvm::map_to_vector(
                outputNames, [](const std::string &n) { return StringRef(n); }))
          : ret.getNames());
  func->setAttr(attr::kGraph,
                builder.getStringAttr(graph == Graph::Forward ? "forward"
                                      : graph == Graph::Loss  ? "loss"
                                                              : "grad"));
  if (lossGraph)
    func->setAttr(attr::kInputNames,
                  builder.getStrArrayAttr({"tokens", "targets"}));
  if (splitInput)
    func->setAttr(attr::kInputNames,
                  builder.getStrArrayAttr({"tokens", "split"}));
  func->setAttr(attr::kVocabSize, builder.getI64IntegerAttr(config.getVocab()));
  func->setAttr(attr::kBatch, builder.getI64IntegerAttr(batch));
  func->setAttr(attr::kSeq, builder.getI64IntegerAttr(seq));
  Block *entry = func.addEntryBlock();
  builder.setInsertionPointToStart(entry);
  tokens = entry->getArgument(0);
  if (lossGraph)
    targets = entry->getArgument(1);
  if (splitInput)
    split = entry->getArgument(1);
  for (auto [param, arg] : llvm::zip(
           params,
           entry->getArguments().drop_front(lossGraph || splitInput ? 2 : 1)))
    paramValues[param.getSymName()] = arg;
  return success();
}

LogicalResult ModelLowering::lowerOp(EmbedOp embed) {
  setLowered(embed.getOutput(), fb.embed(tokens, param(embed.getWeight())));
  fb.buildRopeTables();
  // The rotary tables are the embedding's tape: RoPE's VJP reads them.
  if (graph == Graph::Grad) {
    auto [cos, sin] = fb.ropeTables();
    save(0, cos);
    save(1, sin);
  }
  return success();
}

LogicalResult ModelLowering::lowerOp(RMSNormOp norm) {
  setLowered(norm.getOutput(),
             fb.rmsNorm(lowered[norm.getInput()], param(norm.getWeight()), 1));
  return success();
}

LogicalResult ModelLowering::lowerOp(LMHeadOp head) {
  if (graph != Graph::Forward && head.getLogits() == ret.getOutputs()[0])
    lossHead = head;
  else
    setLowered(head.getLogits(),
               fb.matmul(lowered[head.getInput()], param(head.getWeight())));
  return success();
}

LogicalResult ModelLowering::lowerOp(LayerOp layer) {
  auto weight = [&](StringRef suffix) {
    return param(layer.getParamName(suffix));
  };
  ConfigAttr config = model.getConfig();
  int64_t rows = options.batch * options.seq, hidden = config.getHidden();
  Value h = lowered[layer.getInput()];
  bool skipAll =
      layer.getSkip() && !layer.getSkipUntil() && !layer.getSkipSplit();
  Value out = h, attnOut, mlpOut;
  if (skipAll) {
    // The identity: no computation, zero sublayer contributions.
    attnOut = mlpOut = fb.zeros({rows, hidden});
  } else {
    double scale = layer.getNormScale().convertToDouble();
    LayerTape tape;
    tape.input = h;
    tape.norm1 = fb.rmsNorm(h, weight("input_layernorm.weight"), scale);
    // All three projections first, so that RoPE and attention form one
    // run between library calls (one fused kernel). Fused: one GEMM over
    // the weights' rows [Wq; Wk; Wv], whose column blocks that kernel
    // splits (RoPE of q and k, v copied for attention).
    int64_t heads = config.getHeads(), kvHeads = config.getKvHeads();
    bool fuse = options.fuseProjections && options.accumulate <= 1;
    if (fuse) {
      int64_t qWidth = heads * config.getHeadDim();
      int64_t kvWidth = kvHeads * config.getHeadDim();
      Value qkv = fb.matmul(tape.norm1,
                            fb.concatRows({weight("self_attn.q_proj.weight"),
                                           weight("self_attn.k_proj.weight"),
                                           weight("self_attn.v_proj.weight")}));
      tape.q = fb.rope(qkv, heads, /*inverse=*/false, /*column=*/0);
      tape.k = fb.rope(qkv, kvHeads, /*inverse=*/false, qWidth);
      tape.v = fb.columns(qkv, qWidth + kvWidth, kvWidth);
    } else {
      Value qRaw = fb.matmul(tape.norm1, weight("self_attn.q_proj.weight"));
      Value kRaw = fb.matmul(tape.norm1, weight("self_attn.k_proj.weight"));
      tape.v = fb.matmul(tape.norm1, weight("self_attn.v_proj.weight"));
      tape.q = fb.rope(qRaw, heads);
      tape.k = fb.rope(kRaw, kvHeads);
    }
    tape.attn = fb.attention(tape.q, tape.k, tape.v);
    // The attention residual goes into the o_proj GEMM as its accumulator
    // (bufferized in place: h dies there), unless the sublayer outputs
    // themselves are needed (analysis outputs, skip masks), h is used
    // beyond this layer, or the reverse pass reads the sum.
    bool foldAttention = !layer.exposesSublayers() && !layer.getSkip() &&
                         layer.getInput().hasOneUse() && graph != Graph::Grad;
    if (foldAttention) {
      tape.mid = fb.matmul(tape.attn, weight("self_attn.o_proj.weight"), h);
    } else {
      attnOut = fb.matmul(tape.attn, weight("self_attn.o_proj.weight"));
      tape.mid = fb.add(h, attnOut);
    }
    tape.norm2 =
        fb.rmsNorm(tape.mid, weight("post_attention_layernorm.weight"), scale);
    if (fuse) {
      // gate|up as one GEMM; the tape holds it as both (fusedProjections).
      tape.gate = tape.up =
          fb.matmul(tape.norm2, fb.concatRows({weight("mlp.gate_proj.weight"),
                                               weight("mlp.up_proj.weight")}));
      tape.gated = fb.swigluHalves(tape.gate);
    } else {
      tape.gate = fb.matmul(tape.norm2, weight("mlp.gate_proj.weight"));
      tape.up = fb.matmul(tape.norm2, weight("mlp.up_proj.weight"));
      tape.gated = fb.swiglu(tape.gate, tape.up);
    }
    if (graph == Graph::Grad)
      for (auto [slot, value] : llvm::enumerate(tape.toValues()))
        save(slot, value);
    // The MLP residual stays an add, fused into the next RMSNorm kernel
    // where it is nearly free: folding it too would make the whole residual
    // stream one in-place buffer, and one-shot bufferization's conflict
    // analysis is quadratic in such an alias chain (30 layers: 87 ms
    // instead of 15 ms of compile time).
    mlpOut = fb.matmul(tape.gated, weight("mlp.down_proj.weight"));
    out = fb.add(tape.mid, mlpOut);
    if (layer.getSkip()) {
      PositionMask mask;
      if (auto from = layer.getSkipFrom())
        mask.from = int64_t(*from);
      if (auto until = layer.getSkipUntil())
        mask.until = int64_t(*until);
      if (layer.getSkipSplit())
        mask.split = split;
      Value zero = fb.zeros({rows, hidden});
      out = fb.maskPositions(h, out, mask);
      attnOut = fb.maskPositions(zero, attnOut, mask);
      mlpOut = fb.maskPositions(zero, mlpOut, mask);
    }
  }
  setLowered(layer.getOutput(), out);
  if (layer.exposesSublayers()) {
    setLowered(layer.getSublayers()[0], attnOut);
    setLowered(layer.getSublayers()[1], mlpOut);
  }
  return success();
}

LogicalResult ModelLowering::lowerOp(ReturnOp) {
  Location loc = model.getLoc();
  SmallVector<Value> results;
  if (graph == Graph::Grad) {
    // The reverse pass builds the results here, before the return, from
    // what the tape recorded; the model stays for its VJP rules, renamed
    // since the function now has its name.
    std::string modelName = (model.getSymName() + ".model").str();
    auto tape = growk::ForwardTapeOp::create(
        builder, loc, func.getResultTypes(), modelName, tapeValues,
        tapePositions, tapeSlots, options.keyBlock, options.lossRows);
    llvm::append_range(results, tape.getResults());
    model.setSymName(modelName);
  } else if (graph == Graph::Loss) {
    if (!lossHead)
      return ret.emitOpError("a loss graph scores the logits of an LM head");
    results.push_back(fb.headCrossEntropy(lowered[lossHead.getInput()],
                                          param(lossHead.getWeight()), targets,
                                          /*withGrads=*/false)
                          .loss);
  } else {
    for (Value output : ret.getOutputs())
      results.push_back(fb.unflatten(lowered[output]));
  }
  func::ReturnOp::create(builder, loc, results);
  return success();
}

LogicalResult ModelLowering::lower() {
  if (options.seq > model.getConfig().getContextLength())
    return model.emitOpError("compiled sequence length ")
           << int64_t(options.seq) << " exceeds the model's context "
           << model.getConfig().getContextLength();
  if (options.accumulate < 1)
    return model.emitOpError("accumulate must be at least 1, got ")
           << int64_t(options.accumulate);
  if (failed(buildFunction()))
    return failure();
  for (auto [index, op] : llvm::enumerate(model.getBodyBlock())) {
    position = index;
    LogicalResult result =
        TypeSwitch<Operation *, LogicalResult>(&op)
            .Case<EmbedOp, RMSNormOp, LMHeadOp, LayerOp, ReturnOp>(
                [&](auto op) { return lowerOp(op); })
            .Case<ParamOp>([](ParamOp) { return success(); })
            .Default([](Operation *op) {
              return op->emitOpError("has no tensor-level lowering");
            });
    if (failed(result))
      return failure();
  }
  if (graph != Graph::Grad)
    model.erase();
  return success();
}

struct LowerModelToTensorsPass
    : growc::impl::LowerModelToTensorsBase<LowerModelToTensorsPass> {
  using LowerModelToTensorsBase::LowerModelToTensorsBase;

  void runOnOperation() override {
    if (graph != "forward" && graph != "loss" && graph != "grad" &&
        graph != "train") {
      getOperation().emitError("growc-lower-model-to-tensors: graph must be "
                               "forward, loss, grad or train, got '")
          << graph << "'";
      return signalPassFailure();
    }
    if (batch < 1 || seq < 1 || keyBlock < 1) {
      getOperation().emitError("growc-lower-model-to-tensors: batch, seq and "
                               "key-block must be positive");
      return signalPassFailure();
    }
    if (lossRows < 0) {
      getOperation().emitError("growc-lower-model-to-tensors: loss-rows "
                               "must be non-negative (0: automatic)");
      return signalPassFailure();
    }
    // A train graph's forward is the grad graph's.
    Graph kind = graph == "forward" ? Graph::Forward
                 : graph == "loss"  ? Graph::Loss
                                    : Graph::Grad;
    LowerModelToTensorsOptions options{
        batch,    seq,        keyBlock,    graph,
        lossRows, accumulate, forwardOnly, fuseProjections};
    for (ModelOp model : llvm::to_vector(getOperation().getOps<ModelOp>()))
      if (failed(ModelLowering(model, kind, options).lower()))
        return signalPassFailure();
    if (kind != Graph::Grad || forwardOnly)
      return;
    // The rest of the graph: exactly the training-graph pipeline's stages.
    OpPassManager rest(ModuleOp::getOperationName());
    rest.addPass(createDifferentiateModel());
    if (graph == "train")
      rest.addPass(createAppendOptimizerStep({accumulate}));
    if (failed(runPipeline(rest, getOperation())))
      signalPassFailure();
  }
};

} // namespace

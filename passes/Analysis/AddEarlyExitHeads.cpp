//===- AddEarlyExitHeads.cpp - expose logit-lens and residual tensors -----===//
//
// Adds the model outputs the depth analyses read (SPEC.md §5): each layer's
// logit-lens logits decoded with the model's own final norm and head (from
// the layer's output h_{l+1}, or with lens-at=input from its input h_l), and
// the residual stream h_l with the attention and MLP contributions a_l, m_l.
// Outputs are named so the runtime can write them under those names.
//
//===----------------------------------------------------------------------===//

#include "passes/Analysis/Passes.h"

#include "llvm/ADT/SmallSet.h"

#include <set>

namespace growc {
#define GEN_PASS_DEF_ADDEARLYEXITHEADS
#include "passes/Analysis/Passes.h.inc"
} // namespace growc

using namespace mlir;
using namespace growc;
using namespace growc::grow;

namespace {

/// Replaces `layer` by an identical layer that also returns its attention and
/// MLP outputs.
LayerOp exposeSublayers(OpBuilder &builder, LayerOp layer) {
  if (layer.exposesSublayers())
    return layer;
  builder.setInsertionPoint(layer);
  Type type = layer.getOutput().getType();
  OperationState state(layer.getLoc(), LayerOp::getOperationName());
  state.addOperands(layer.getInput());
  state.addAttributes(layer->getAttrs());
  state.addTypes({type, type, type});
  auto exposed = cast<LayerOp>(builder.create(state));
  layer.getOutput().replaceAllUsesWith(exposed.getOutput());
  layer.erase();
  return exposed;
}

struct AddEarlyExitHeadsPass
    : growc::impl::AddEarlyExitHeadsBase<AddEarlyExitHeadsPass> {
  using AddEarlyExitHeadsBase::AddEarlyExitHeadsBase;

  LogicalResult rewrite(ModelOp model) {
    if (!logitLens && !residualStream)
      return model.emitOpError("growc-add-early-exit-heads: logit-lens and "
                               "residual-stream are both off; nothing to add");
    if (lensAt != "output" && lensAt != "input")
      return model.emitOpError("growc-add-early-exit-heads: lens-at must be "
                               "'input' or 'output', not '")
             << lensAt << "'";
    // The two conventions get different names so that no reader can take
    // one for the other: logit_lens.<l> decodes h_{l+1}, logit_lens_in.<l>
    // decodes h_l (Csordás et al.'s index; l = 0 is the embeddings).
    const bool atInput = lensAt == "input";
    const std::string lensPrefix = atInput ? "logit_lens_in." : "logit_lens.";
    ReturnOp ret = model.getReturn();
    if (ret.getOutputs().size() != 1)
      return model.emitOpError("already has analysis outputs; add early-exit "
                               "heads once");
    SmallVector<LayerOp> layers = model.getLayers();
    int64_t numLayers = layers.size();
    std::set<int64_t> selected;
    if (positions.empty())
      for (int64_t l = 0; l < numLayers; ++l)
        selected.insert(l);
    for (int64_t position : positions) {
      if (position < 0 || position >= numLayers)
        return model.emitOpError("growc-add-early-exit-heads: layer position ")
               << position << " is out of range; the model has " << numLayers
               << " layers";
      if (!selected.insert(position).second)
        return model.emitOpError("growc-add-early-exit-heads: layer position ")
               << position << " is listed twice";
    }

    auto head = ret.getOutputs()[0].getDefiningOp<LMHeadOp>();
    auto norm = head.getInput().getDefiningOp<RMSNormOp>();
    OpBuilder builder(model.getContext());
    SmallVector<std::pair<std::string, Value>> lens, hidden, attn, mlp;
    std::set<int64_t> hiddenIndices;
    for (int64_t l : selected) {
      LayerOp layer = layers[l];
      if (residualStream) {
        layer = exposeSublayers(builder, layer);
        attn.push_back({"attn." + std::to_string(l), layer.getSublayers()[0]});
        mlp.push_back({"mlp." + std::to_string(l), layer.getSublayers()[1]});
        if (hiddenIndices.insert(l).second)
          hidden.push_back({"hidden." + std::to_string(l), layer.getInput()});
        if (hiddenIndices.insert(l + 1).second)
          hidden.push_back(
              {"hidden." + std::to_string(l + 1), layer.getOutput()});
      }
      if (logitLens) {
        // Decoding h_l goes before layer l, so the graph reads in depth order.
        if (atInput)
          builder.setInsertionPoint(layer);
        else
          builder.setInsertionPointAfter(layer);
        Value normed =
            RMSNormOp::create(builder, layer.getLoc(), norm.getWeightAttr(),
                              atInput ? layer.getInput() : layer.getOutput());
        Value logits = LMHeadOp::create(builder, layer.getLoc(),
                                        head.getLogits().getType(),
                                        head.getWeightAttr(), normed);
        lens.push_back({lensPrefix + std::to_string(l), logits});
      }
    }
    // h_l is defined before h_{l+1}; sort so names come in depth order.
    llvm::sort(hidden, [](const auto &a, const auto &b) {
      return std::stoll(a.first.substr(7)) < std::stoll(b.first.substr(7));
    });

    SmallVector<Attribute> names = {builder.getStringAttr("logits")};
    SmallVector<Value> outputs = {ret.getOutputs()[0]};
    for (auto *group : {&lens, &hidden, &attn, &mlp})
      for (auto &[name, value] : *group) {
        names.push_back(builder.getStringAttr(name));
        outputs.push_back(value);
      }
    builder.setInsertionPoint(ret);
    ReturnOp::create(builder, ret.getLoc(), builder.getArrayAttr(names),
                     outputs);
    ret.erase();
    return success();
  }

  void runOnOperation() override {
    for (auto model : getOperation().getOps<ModelOp>())
      if (failed(rewrite(model)))
        return signalPassFailure();
  }
};
} // namespace

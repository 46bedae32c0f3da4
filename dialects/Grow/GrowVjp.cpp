//===- GrowVjp.cpp - the VJP rules of the model-level ops -----------------===//
//
// Each rule reads the cotangents of its op's results and adds those of its
// inputs and parameters to the VjpContext (Vjp.h). The decoder layer's rule
// is the composition of its pieces' rules, last piece first; it reads the
// forward's intermediates from the LayerTape the lowering recorded.
//
//===----------------------------------------------------------------------===//

#include "dialects/Grow/GrowOps.h"

using namespace mlir;
using namespace growc::grow;

LogicalResult EmbedOp::buildVjp(VjpContext &context,
                                ValueRange resultCotangents) {
  Value dh = resultCotangents[0];
  if (dh)
    context.addParamGrad(getWeight(), context.embedGrad(context.tokens(), dh));
  return success();
}

LogicalResult RMSNormOp::buildVjp(VjpContext &context,
                                  ValueRange resultCotangents) {
  Value dy = resultCotangents[0];
  if (!dy)
    return success();
  auto [dx, dw] = context.rmsNormGrad(context.forward(getInput()),
                                      context.param(getWeight()), 1.0, dy);
  context.addCotangent(getInput(), dx);
  context.addParamGrad(getWeight(), dw);
  return success();
}

LogicalResult LMHeadOp::buildVjp(VjpContext &context,
                                 ValueRange resultCotangents) {
  Value x = context.forward(getInput()), w = context.param(getWeight());
  if (context.isLossLogits(getLogits())) {
    // The seed: the mean cross-entropy of these logits, computed with its
    // gradient chunk by chunk so the logits never exist whole.
    auto [loss, dx, dw] = context.crossEntropyGrad(x, w, context.targets());
    context.setLoss(loss);
    context.addParamGrad(getWeight(), dw);
    context.addCotangent(getInput(), dx);
    return success();
  }
  Value dz = resultCotangents[0];
  if (!dz)
    return success();
  context.addParamGrad(getWeight(), context.matmulWeightGrad(dz, x));
  context.addCotangent(getInput(), context.matmulInputGrad(dz, w));
  return success();
}

LogicalResult LayerOp::buildVjp(VjpContext &context,
                                ValueRange resultCotangents) {
  if (getSkip() || exposesSublayers())
    return emitOpError("the grad graph differentiates plain layers; skipped "
                       "layers and sublayer outputs are analysis rewrites");
  Value dh = resultCotangents[0];
  if (!dh)
    return success();
  const LayerTape *tape = context.layerTape(getOperation());
  if (!tape)
    return emitOpError("the forward lowering recorded no tape for this "
                       "layer's VJP");
  auto weight = [&](StringRef suffix) {
    return context.param(getParamName(suffix));
  };
  auto addGrad = [&](StringRef suffix, Value grad) {
    context.addParamGrad(getParamName(suffix), grad);
  };
  double scale = getNormScale().convertToDouble();
  // A fused projection's weight gradient is one GEMM; each parameter's
  // gradient is its block of rows (a view).
  auto addBlockGrads = [&](Value fused, ArrayRef<StringRef> suffixes) {
    int64_t first = 0;
    for (StringRef suffix : suffixes) {
      int64_t rows = cast<ShapedType>(weight(suffix).getType()).getDimSize(0);
      addGrad(suffix, context.rowBlock(fused, first, rows));
      first += rows;
    }
  };
  auto weights = [&](ArrayRef<StringRef> suffixes) {
    return llvm::map_to_vector(suffixes, weight);
  };
  // out = mid + down(swiglu(gate(n2), up(n2))), n2 = s·RMSNorm(mid).
  addGrad("mlp.down_proj.weight", context.matmulWeightGrad(dh, tape->gated));
  Value dgated = context.matmulInputGrad(dh, weight("mlp.down_proj.weight"));
  StringRef mlp[] = {"mlp.gate_proj.weight", "mlp.up_proj.weight"};
  Value dn2;
  if (tape->fusedProjections()) {
    // One gate|up GEMM: dY = [dgate | dup] for the weight gradient and dX.
    Value dgateUp = context.swigluHalvesGrad(tape->gate, dgated);
    addBlockGrads(context.matmulWeightGrad(dgateUp, tape->norm2), mlp);
    dn2 = context.matmulInputGrad(dgateUp, context.concatRows(weights(mlp)));
  } else {
    auto [dgate, dup] = context.swigluGrad(tape->gate, tape->up, dgated);
    addGrad(mlp[0], context.matmulWeightGrad(dgate, tape->norm2));
    addGrad(mlp[1], context.matmulWeightGrad(dup, tape->norm2));
    // The two products sum through the second GEMM (beta = 1).
    dn2 = context.matmulInputGrad(
        dup, weight(mlp[1]), context.matmulInputGrad(dgate, weight(mlp[0])));
  }
  // The residual: dmid = dh + the norm's dx.
  auto [dmid, dw2] = context.rmsNormGrad(
      tape->mid, weight("post_attention_layernorm.weight"), scale, dn2, dh);
  addGrad("post_attention_layernorm.weight", dw2);
  // mid = h + o_proj(attention(rope(q(n1)), rope(k(n1)), v(n1))),
  // n1 = s·RMSNorm(h).
  addGrad("self_attn.o_proj.weight",
          context.matmulWeightGrad(dmid, tape->attn));
  Value dattn =
      context.matmulInputGrad(dmid, weight("self_attn.o_proj.weight"));
  auto [dqRoped, dkRoped, dv] =
      context.attentionGrad(tape->q, tape->k, tape->v, tape->attn, dattn);
  StringRef attention[] = {"self_attn.q_proj.weight", "self_attn.k_proj.weight",
                           "self_attn.v_proj.weight"};
  Value n1 = tape->norm1, dn1;
  if (tape->fusedProjections()) {
    // One q|k|v GEMM: one kernel writes dY = [dq | dk | dv].
    Value dqkv = context.qkvGrad(dqRoped, dkRoped, dv);
    addBlockGrads(context.matmulWeightGrad(dqkv, n1), attention);
    dn1 = context.matmulInputGrad(dqkv, context.concatRows(weights(attention)));
  } else {
    ConfigAttr config = getOperation()->getParentOfType<ModelOp>().getConfig();
    Value dq = context.ropeGrad(dqRoped, config.getHeads());
    Value dk = context.ropeGrad(dkRoped, config.getKvHeads());
    addGrad(attention[0], context.matmulWeightGrad(dq, n1));
    addGrad(attention[1], context.matmulWeightGrad(dk, n1));
    addGrad(attention[2], context.matmulWeightGrad(dv, n1));
    dn1 = context.matmulInputGrad(
        dv, weight(attention[2]),
        context.matmulInputGrad(
            dk, weight(attention[1]),
            context.matmulInputGrad(dq, weight(attention[0]))));
  }
  auto [dh0, dw1] = context.rmsNormGrad(
      tape->input, weight("input_layernorm.weight"), scale, dn1, dmid);
  addGrad("input_layernorm.weight", dw1);
  context.addCotangent(getInput(), dh0);
  return success();
}

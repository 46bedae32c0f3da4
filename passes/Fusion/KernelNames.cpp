//===- KernelNames.cpp - kernels named after what they compute ------------===//
//
// A profile or a plan that lists `rmsnorm_3` and `swiglu_4` reads like the
// layer it runs; `kernel3` says nothing (llm.c names its kernels the same
// way). The name is read off the kernel's ops when it is formed: each op
// that is recognisably part of a known computation contributes a tag, the
// first three distinct tags in op order make the stem, and the kernel's
// index in its KernelCache makes the name unique. The recognisers look at
// what the lowering writes (passes/Lowering, passes/Training): they only
// name, so one that misses costs a vaguer name, never a wrong kernel.
//
//===----------------------------------------------------------------------===//

#include "passes/Fusion/KernelOutlining.h"

#include "dialects/Kernel/KernelOps.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"

#include <cmath>
#include <optional>

using namespace mlir;
using namespace growc;

namespace {

/// The ops in a linalg.generic's body (and its input types) that tell what
/// it computes.
struct BodySummary {
  bool log = false, trig = false, sqrt = false, exp = false, neg = false;
  bool select = false, gather = false, minimum = false, reduction = false;
  bool integerInput = false;
};

bool hasIntegerElements(Value value) {
  auto type = dyn_cast<ShapedType>(value.getType());
  return type && isa<IntegerType>(type.getElementType());
}

BodySummary summarize(linalg::GenericOp generic) {
  BodySummary s;
  s.reduction = generic.getNumReductionLoops() > 0;
  s.integerInput = llvm::any_of(generic.getDpsInputs(), hasIntegerElements);
  generic.getBody()->walk([&](Operation *op) {
    s.log |= isa<math::LogOp>(op);
    s.trig |= isa<math::CosOp, math::SinOp>(op);
    s.sqrt |= isa<math::SqrtOp, math::RsqrtOp>(op);
    s.exp |= isa<math::ExpOp>(op);
    s.neg |= isa<arith::NegFOp>(op);
    s.select |= isa<arith::SelectOp>(op);
    s.gather |= isa<tensor::ExtractOp>(op);
    s.minimum |= isa<arith::MinimumFOp>(op);
  });
  return s;
}

/// The constant factor of `product` = x * c (or c * x), if it is one.
std::optional<double> constantFactor(Value product) {
  auto mul = product.getDefiningOp<arith::MulFOp>();
  if (!mul)
    return std::nullopt;
  for (Value operand : mul->getOperands())
    if (auto constant = operand.getDefiningOp<arith::ConstantFloatOp>())
      return constant.value().convertToDouble();
  return std::nullopt;
}

/// Whether `generic` yields x * c + y * (1 - c): an exponential moving
/// average, AdamW's first and second moments. The train step yields it
/// through a select that keeps the old value where the update is off (a
/// non-finite step, a micro-batch that does not apply).
bool isMovingAverage(linalg::GenericOp generic) {
  auto yield = cast<linalg::YieldOp>(generic.getBody()->getTerminator());
  if (yield->getNumOperands() != 1)
    return false;
  Value yielded = yield->getOperand(0);
  if (auto select = yielded.getDefiningOp<arith::SelectOp>())
    yielded = select.getTrueValue();
  auto add = yielded.getDefiningOp<arith::AddFOp>();
  if (!add)
    return false;
  std::optional<double> a = constantFactor(add.getLhs());
  std::optional<double> b = constantFactor(add.getRhs());
  return a && b && std::abs(*a + *b - 1.0) < 1e-6;
}

/// The tag of one op of a kernel, or "" when the op is only a piece of
/// something larger (a fill, a sum, a reshape) or not recognised.
StringRef tagOf(Operation *op) {
  if (isa<growk::AttentionOp>(op))
    return "attention";
  if (isa<growk::AttentionGradOp>(op))
    return "attention_grad";
  auto generic = dyn_cast<linalg::GenericOp>(op);
  if (!generic) {
    // A loop nest reading token ids: the embedding's gradient, scattered
    // into the rows of its tokens.
    bool readsTokens = false;
    op->walk([&](tensor::ExtractOp extract) {
      readsTokens |= hasIntegerElements(extract.getTensor());
    });
    return readsTokens ? "embedding" : "";
  }
  BodySummary s = summarize(generic);
  if (s.log)
    return "cross_entropy"; // log-sum-exp of the logits
  if (s.trig)
    return "rope"; // the cos / sin tables
  if (s.gather && s.select && s.neg)
    return "rope"; // the rotated half: (-x2, x1)
  if (s.gather && s.integerInput && !s.select)
    return "embedding"; // rows of the table by token id
  if (s.sqrt && generic.getBody()->getOperations().size() == 2)
    return "norm"; // √x alone: the global gradient norm of the train step
  if (s.sqrt && s.exp)
    return "adamw"; // bias corrections as exponentials, sqrt(v)
  if (s.minimum)
    return "clip"; // min(1, max_norm / (norm + eps))
  if (s.sqrt)
    return "rmsnorm";
  if (s.exp && s.neg)
    return "swiglu"; // SiLU: x / (1 + exp(-x))
  if (s.exp && s.reduction)
    return "softmax"; // sum of exp(x - max)
  if (isMovingAverage(generic))
    return "moment";
  return "";
}

/// A name for a kernel no tag describes: the shape of its work.
StringRef fallbackTag(func::FuncOp kernel) {
  bool reduces = false;
  SmallVector<linalg::GenericOp> generics;
  kernel.walk([&](linalg::GenericOp generic) {
    generics.push_back(generic);
    reduces |= generic.getNumReductionLoops() > 0;
  });
  if (reduces)
    return "reduce";
  // Only yields its inputs: a copy (a transpose, a layout change).
  if (llvm::all_of(generics, [](linalg::GenericOp generic) {
        return generic.getBody()->getOperations().size() == 1;
      }))
    return "copy";
  // One elementwise op of one arithmetic op: what it is.
  if (generics.size() == 1 &&
      generics.front().getBody()->getOperations().size() == 2) {
    Operation &only = generics.front().getBody()->front();
    if (isa<arith::AddFOp>(only))
      return "add";
    if (isa<arith::MulFOp>(only))
      return "mul";
    if (isa<arith::SubFOp>(only))
      return "sub";
  }
  return "map";
}

} // namespace

std::string growc::describeKernel(func::FuncOp kernel) {
  SmallVector<StringRef, 3> tags;
  for (Operation &op : kernel.getBody().front()) {
    StringRef tag = tagOf(&op);
    if (tag.empty() || llvm::is_contained(tags, tag))
      continue;
    tags.push_back(tag);
    if (tags.size() == 3)
      break;
  }
  if (tags.empty())
    tags.push_back(fallbackTag(kernel));
  return llvm::join(tags, "_");
}

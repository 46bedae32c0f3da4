//===- PlanEmitter.cpp - the host function as a plan ----------------------===//
//
// The runtime does not run compiled host code: it interprets the plan, a flat
// list of kernel launches and GEMM library calls over buffers in one arena
// (XLA's thunk sequence, llm.c's kernel list). This file reads the bufferized
// host function into that plan and plans the arena: parameters, tokens and
// outputs get their own bytes; intermediates share bytes whenever their
// lifetimes (first definition to last use, views included) do not overlap.
//
// Data parallelism: the train graph's growk.all_reduce ops (one per
// gradient, all after the backward pass) become `all_reduce` steps over
// buckets of gradients, each placed right after the step that completes the
// bucket's last gradient, so that an executor with a second stream (NCCL on
// the GPU) reduces it while the backward pass continues.
//
//===----------------------------------------------------------------------===//

#include "growc/Codegen/Codegen.h"

#include "dialects/Grow/GrowOps.h"
#include "dialects/Kernel/KernelOps.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "llvm/Support/FormatVariadic.h"

using namespace mlir;
using namespace growc;
namespace json = llvm::json;

namespace {

constexpr int64_t kAlignment = 64;
using growc::growk::GemmCall;

llvm::Error fail(const llvm::Twine &message) {
  return llvm::createStringError(llvm::inconvertibleErrorCode(),
                                 "plan emission: " + message);
}

int64_t alignUp(int64_t value) {
  return (value + kAlignment - 1) / kAlignment * kAlignment;
}

std::optional<StringRef> dtypeName(Type type) {
  if (type.isF32())
    return StringRef("F32");
  if (type.isBF16())
    return StringRef("BF16");
  if (type.isInteger(32))
    return StringRef("I32");
  return std::nullopt;
}

json::Array shapeOf(MemRefType type) {
  json::Array shape;
  for (int64_t d : type.getShape())
    shape.push_back(d);
  return shape;
}

/// One arena allocation.
struct Buffer {
  int64_t size = 0;
  int64_t offset = -1;
  /// Op indices of the first definition and the last use; persistent
  /// buffers (parameters, inputs, outputs) live for the whole run.
  int64_t firstUse = 0, lastUse = 0;
  bool persistent = false;
};

/// A gradient to reduce over the ranks (a growk.all_reduce of the host).
struct PendingReduce {
  unsigned buffer = 0;
  int64_t when = -1; ///< flag buffer, -1: always
  StringRef reduction;
  /// Steps [ready, deadline) may hold its all_reduce: after the last step
  /// that touches the buffer before the op, before the first one after it.
  size_t ready = 0, deadline = 0;
};

class PlanBuilder {
public:
  PlanBuilder(func::FuncOp host, int64_t bucketBytes)
      : host(host), bucketBytes(bucketBytes) {}

  llvm::Expected<json::Object> build(StringRef target, StringRef kernelsFile);

private:
  /// The buffer a memref value lives in (views resolve to their source).
  std::optional<unsigned> bufferOf(Value value) {
    auto it = bufferIds.find(value);
    if (it == bufferIds.end())
      return std::nullopt;
    return it->second;
  }
  /// Where in its buffer a value starts, in bytes: 0 except for views of
  /// a block of rows (memref.subview).
  int64_t byteOffsetOf(Value value) const { return byteOffsets.lookup(value); }
  unsigned newBuffer(Value value, int64_t index, bool persistent) {
    auto type = cast<MemRefType>(value.getType());
    Buffer buffer;
    buffer.size =
        type.getNumElements() * ((type.getElementTypeBitWidth() + 7) / 8);
    buffer.firstUse = buffer.lastUse = index;
    buffer.persistent = persistent;
    buffers.push_back(buffer);
    bufferIds[value] = buffers.size() - 1;
    return buffers.size() - 1;
  }
  void assignOffsets();
  /// Groups `reduces` into buckets of at most `bucketBytes` (a gradient
  /// larger than that is a bucket of its own) and inserts their steps.
  void insertAllReduceSteps(json::Array &steps,
                            ArrayRef<SmallVector<unsigned>> stepBuffers,
                            MutableArrayRef<PendingReduce> reduces);

  func::FuncOp host;
  int64_t bucketBytes;
  SmallVector<Buffer> buffers;
  DenseMap<Value, unsigned> bufferIds;
  DenseMap<Value, int64_t> byteOffsets;
};

/// Whether `type` is laid out row-major without gaps (any offset), so that
/// a GEMM can address it as a dense matrix from its first element.
bool isContiguous(MemRefType type) {
  SmallVector<int64_t> strides;
  int64_t offset;
  if (failed(type.getStridesAndOffset(strides, offset)))
    return false;
  int64_t expected = 1;
  for (int64_t d = type.getRank() - 1; d >= 0; --d) {
    if (type.getDimSize(d) != 1 && strides[d] != expected)
      return false;
    expected *= type.getDimSize(d);
  }
  return true;
}

void PlanBuilder::assignOffsets() {
  // Persistent buffers first, back to back; then first-fit by lifetime for
  // the intermediates, in order of definition.
  int64_t end = 0;
  for (Buffer &buffer : buffers)
    if (buffer.persistent) {
      buffer.offset = end;
      end = alignUp(end + buffer.size);
    }
  int64_t base = end;
  SmallVector<Buffer *> placed;
  for (Buffer &buffer : buffers) {
    if (buffer.persistent)
      continue;
    // Candidate offsets: the base and the end of every overlapping buffer.
    SmallVector<Buffer *> live;
    for (Buffer *other : placed)
      if (other->firstUse <= buffer.lastUse &&
          buffer.firstUse <= other->lastUse)
        live.push_back(other);
    SmallVector<int64_t> candidates = {base};
    for (Buffer *other : live)
      candidates.push_back(alignUp(other->offset + other->size));
    llvm::sort(candidates);
    for (int64_t candidate : candidates) {
      bool fits = llvm::none_of(live, [&](Buffer *other) {
        return candidate < other->offset + other->size &&
               other->offset < candidate + buffer.size;
      });
      if (fits) {
        buffer.offset = candidate;
        break;
      }
    }
    placed.push_back(&buffer);
  }
}

void PlanBuilder::insertAllReduceSteps(
    json::Array &steps, ArrayRef<SmallVector<unsigned>> stepBuffers,
    MutableArrayRef<PendingReduce> reduces) {
  // `ready` was the op's position; move it back past the steps that touch
  // neither the buffer nor its flag, and find the first later step that
  // touches the buffer.
  for (PendingReduce &r : reduces) {
    size_t position = r.ready;
    auto touches = [&](size_t step) {
      return llvm::is_contained(stepBuffers[step], r.buffer);
    };
    auto touchesFlag = [&](size_t step) {
      return r.when >= 0 &&
             llvm::is_contained(stepBuffers[step], unsigned(r.when));
    };
    while (r.ready > 0 && !touches(r.ready - 1) && !touchesFlag(r.ready - 1))
      --r.ready;
    r.deadline = position;
    while (r.deadline < steps.size() && !touches(r.deadline))
      ++r.deadline;
  }
  // By readiness; ties keep the ops' order (their positions in `reduces`).
  SmallVector<size_t> order(reduces.size());
  for (size_t i = 0; i < order.size(); ++i)
    order[i] = i;
  llvm::sort(order, [&](size_t a, size_t b) {
    return std::make_pair(reduces[a].ready, a) <
           std::make_pair(reduces[b].ready, b);
  });
  struct Bucket {
    SmallVector<unsigned> buffers;
    int64_t bytes = 0, when = -1;
    StringRef reduction;
    size_t position = 0, deadline = SIZE_MAX;
  };
  SmallVector<Bucket> buckets;
  for (size_t i : order) {
    const PendingReduce &r = reduces[i];
    int64_t size = buffers[r.buffer].size;
    Bucket *last = buckets.empty() ? nullptr : &buckets.back();
    // A gradient joins the open bucket if it fits, agrees on how it is
    // reduced and is ready before every member must be reduced.
    if (!last || last->bytes + size > bucketBytes || last->when != r.when ||
        last->reduction != r.reduction || r.ready > last->deadline ||
        llvm::is_contained(last->buffers, r.buffer)) {
      buckets.emplace_back();
      last = &buckets.back();
      last->when = r.when;
      last->reduction = r.reduction;
    }
    last->buffers.push_back(r.buffer);
    last->bytes += size;
    last->position = std::max(last->position, r.ready);
    last->deadline = std::min(last->deadline, r.deadline);
  }
  json::Array merged;
  size_t next = 0;
  for (size_t i = 0; i <= steps.size(); ++i) {
    for (; next < buckets.size() && buckets[next].position == i; ++next) {
      json::Array ids;
      for (unsigned id : buckets[next].buffers)
        ids.push_back(id);
      merged.push_back(json::Object{{"op", "all_reduce"},
                                    {"buffers", std::move(ids)},
                                    {"reduction", buckets[next].reduction},
                                    {"when", buckets[next].when}});
    }
    if (i < steps.size())
      merged.push_back(std::move(steps[i]));
  }
  steps = std::move(merged);
}

llvm::Expected<json::Object> PlanBuilder::build(StringRef target,
                                                StringRef kernelsFile) {
  auto paramNames = host->getAttrOfType<ArrayAttr>("growc.param_names");
  auto outputNames = host->getAttrOfType<ArrayAttr>("growc.output_names");
  StringRef graphName = "forward";
  if (auto graph = host->getAttrOfType<StringAttr>("growc.graph"))
    graphName = graph.getValue();
  auto batch = host->getAttrOfType<IntegerAttr>("growc.batch");
  auto seq = host->getAttrOfType<IntegerAttr>("growc.seq");
  auto vocab = host->getAttrOfType<IntegerAttr>("growc.vocab_size");
  if (!paramNames || !outputNames || !batch || !seq || !vocab)
    return fail("the host function lacks its growc.* attributes");
  Block &body = host.getBody().front();
  // Inputs come first: `tokens`, and `targets` for a loss graph.
  SmallVector<StringRef> inputNames = {"tokens"};
  if (auto names = host->getAttrOfType<ArrayAttr>("growc.input_names"))
    inputNames = llvm::map_to_vector(names, [](Attribute name) {
      return cast<StringAttr>(name).getValue();
    });
  unsigned numInputs = inputNames.size();
  unsigned numParams = paramNames.size(), numOutputs = outputNames.size();
  if (body.getNumArguments() != numInputs + numParams + numOutputs)
    return fail(llvm::formatv("host function has {0} arguments, expected "
                              "{1} inputs + {2} parameters + {3} outputs",
                              body.getNumArguments(), numInputs, numParams,
                              numOutputs));

  // Arguments: inputs, parameters, then one out-parameter per output.
  json::Array inputs, params, outputs;
  auto tensorEntry = [&](StringRef name, Value value,
                         unsigned buffer) -> llvm::Expected<json::Object> {
    auto type = cast<MemRefType>(value.getType());
    std::optional<StringRef> dtype = dtypeName(type.getElementType());
    if (!dtype)
      return fail("tensor '" + name + "' has an unsupported element type");
    return json::Object{{"name", name},
                        {"buffer", buffer},
                        {"dtype", *dtype},
                        {"shape", shapeOf(type)}};
  };
  for (BlockArgument arg :
       body.getArguments().take_front(numInputs + numParams))
    newBuffer(arg, 0, /*persistent=*/true);
  for (auto [i, name] : llvm::enumerate(inputNames)) {
    auto input = tensorEntry(name, body.getArgument(i), i);
    if (!input)
      return input.takeError();
    inputs.push_back(std::move(*input));
  }

  // Walk the host ops: allocations and views define buffers; kernel calls
  // and GEMMs become steps; a copy into an out-parameter makes that output
  // live in the copied buffer.
  json::Array steps, kernels;
  llvm::StringMap<unsigned> kernelIndex;
  DenseMap<unsigned, unsigned> outputBuffer; // output index -> buffer
  // The buffer of a value used at op `index`, whose lifetime that use
  // extends.
  auto useBuffer = [&](Value v, int64_t index) -> std::optional<unsigned> {
    std::optional<unsigned> id = bufferOf(v);
    // An out-parameter written in place (a hoisted allocation) is its own
    // persistent buffer from its first use on.
    auto arg = dyn_cast<BlockArgument>(v);
    if (!id && arg && arg.getOwner() == &body &&
        arg.getArgNumber() >= numInputs + numParams)
      id = newBuffer(arg, 0, /*persistent=*/true);
    if (id)
      buffers[*id].lastUse = std::max(buffers[*id].lastUse, index);
    return id;
  };
  auto argBuffers = [&](Operation *op, ValueRange values,
                        int64_t index) -> llvm::Expected<json::Array> {
    json::Array ids;
    for (Value v : values) {
      std::optional<unsigned> id = useBuffer(v, index);
      if (!id)
        return fail(
            llvm::formatv("'{0}' reads a value with no buffer", op->getName()));
      ids.push_back(*id);
    }
    return ids;
  };
  // The buffers each step touches, and the gradients to reduce.
  SmallVector<SmallVector<unsigned>> stepBuffers;
  auto recordStep = [&](const json::Array &ids) {
    SmallVector<unsigned> touched;
    for (const json::Value &id : ids)
      touched.push_back(unsigned(*id.getAsInteger()));
    stepBuffers.push_back(std::move(touched));
  };
  SmallVector<PendingReduce> reduces;
  int64_t index = 0;
  for (Operation &op : body) {
    ++index;
    if (auto alloc = dyn_cast<memref::AllocOp>(op)) {
      if (!alloc.getType().hasStaticShape())
        return fail("dynamic allocation in the host function");
      newBuffer(alloc.getResult(), index, false);
    } else if (isa<memref::ExpandShapeOp, memref::CollapseShapeOp>(op)) {
      std::optional<unsigned> id = useBuffer(op.getOperand(0), index);
      if (!id)
        return fail("a view of a value with no buffer");
      bufferIds[op.getResult(0)] = *id;
      byteOffsets[op.getResult(0)] = byteOffsetOf(op.getOperand(0));
    } else if (auto subview = dyn_cast<memref::SubViewOp>(op)) {
      // A block of rows (the chunked cross-entropy's slices of the LM head
      // and of its gradient): its source's buffer from an offset. The
      // layout's offset counts from the start of the underlying buffer.
      MemRefType type = subview.getType();
      SmallVector<int64_t> strides;
      int64_t offset;
      if (failed(type.getStridesAndOffset(strides, offset)) ||
          ShapedType::isDynamic(offset) || !type.hasStaticShape() ||
          !isContiguous(type))
        return fail("a view that is not a static, contiguous block of its "
                    "buffer");
      std::optional<unsigned> id = useBuffer(subview.getSource(), index);
      if (!id)
        return fail("a view of a value with no buffer");
      bufferIds[subview.getResult()] = *id;
      byteOffsets[subview.getResult()] =
          offset * ((type.getElementTypeBitWidth() + 7) / 8);
    } else if (auto call = dyn_cast<func::CallOp>(op)) {
      auto [it, inserted] =
          kernelIndex.try_emplace(call.getCallee(), kernels.size());
      if (inserted) {
        json::Array args;
        for (Type type : call.getOperandTypes()) {
          auto memref = cast<MemRefType>(type);
          std::optional<StringRef> dtype = dtypeName(memref.getElementType());
          if (!dtype)
            return fail("kernel '" + call.getCallee() +
                        "' has an unsupported argument type");
          args.push_back(
              json::Object{{"dtype", *dtype}, {"shape", shapeOf(memref)}});
        }
        kernels.push_back(
            json::Object{{"name", call.getCallee()},
                         {"symbol", (call.getCallee() + "_packed").str()},
                         {"args", std::move(args)}});
      }
      auto ids = argBuffers(call, call.getOperands(), index);
      if (!ids)
        return ids.takeError();
      // Kernels get buffer starts (docs/plan.md); bufferization copies a
      // view into a kernel argument of its own.
      for (Value operand : call.getOperands())
        if (byteOffsetOf(operand) != 0)
          return fail("kernel '" + call.getCallee() +
                      "' reads a view at an offset into its buffer");
      recordStep(*ids);
      steps.push_back(json::Object{
          {"op", "kernel"}, {"kernel", it->second}, {"args", std::move(*ids)}});
    } else if (auto generic = dyn_cast<linalg::GenericOp>(op)) {
      std::optional<GemmCall> call =
          GemmCall::parse(generic.getLibraryCallName());
      if (!call)
        return fail("a linalg op other than a GEMM library call is left in "
                    "the host function");
      auto a = cast<MemRefType>(generic.getDpsInputs()[0].getType());
      auto c = cast<MemRefType>(generic.getDpsInits()[0].getType());
      auto ids = argBuffers(&op, op.getOperands(), index);
      if (!ids)
        return ids.takeError();
      for (Value operand : op.getOperands())
        if (!isContiguous(cast<MemRefType>(operand.getType())))
          return fail("a GEMM operand that is not a contiguous matrix");
      recordStep(*ids);
      json::Object gemm{{"op", "gemm"},
                        {"a", (*ids)[0]},
                        {"b", (*ids)[1]},
                        {"c", (*ids)[2]},
                        {"a_offset", byteOffsetOf(op.getOperand(0))},
                        {"b_offset", byteOffsetOf(op.getOperand(1))},
                        {"c_offset", byteOffsetOf(op.getOperand(2))},
                        {"m", c.getDimSize(0)},
                        {"n", c.getDimSize(1)},
                        {"k", a.getDimSize(call->transposeA ? 0 : 1)},
                        {"trans_a", call->transposeA ? 1 : 0},
                        {"trans_b", call->transposeB ? 1 : 0},
                        {"beta", call->accumulate ? 1 : 0}};
      // Element types other than all-f32 (--precision=bf16) are recorded
      // with the compute type; an fp32 plan stays as it was (docs/plan.md).
      SmallVector<StringRef, 3> dtypes;
      for (Value operand : op.getOperands()) {
        std::optional<StringRef> dtype =
            dtypeName(cast<MemRefType>(operand.getType()).getElementType());
        if (!dtype || *dtype == "I32")
          return fail("a GEMM operand of an unsupported element type");
        dtypes.push_back(*dtype);
      }
      if (llvm::any_of(dtypes, [](StringRef d) { return d != "F32"; })) {
        gemm["a_dtype"] = dtypes[0];
        gemm["b_dtype"] = dtypes[1];
        gemm["c_dtype"] = dtypes[2];
        gemm["compute"] = "F32";
      }
      steps.push_back(std::move(gemm));
    } else if (isa<growk::AttentionOp, growk::AttentionGradOp>(op)) {
      // A library kernel's attention or attention gradient
      // (growc-attention-to-tensor-cores): the runtime launches the named
      // entry points on the operands (docs/plan.md).
      auto marker = op.getAttrOfType<StringAttr>(attr::kLibraryKernel);
      if (!marker)
        return fail("an attention left in the host function without a "
                    "library kernel");
      SmallVector<Value, 8> operands;
      SmallVector<StringRef, 8> names = {"q", "k", "v", "o"};
      json::Object step;
      int64_t seqLen, heads, kvHeads, headDim;
      if (auto forward = dyn_cast<growk::AttentionOp>(op)) {
        operands = {forward.getQ(), forward.getK(), forward.getV(),
                    forward.getInit()};
        step = json::Object{{"op", "attention"}, {"symbol", marker.getValue()}};
        seqLen = forward.getSeqLen(), heads = forward.getHeads();
        kvHeads = forward.getKvHeads(), headDim = forward.getHeadDim();
      } else {
        auto grad = cast<growk::AttentionGradOp>(op);
        operands = {grad.getQ(),      grad.getK(),     grad.getV(),
                    grad.getO(),      grad.getDout(),  grad.getDqInit(),
                    grad.getDkInit(), grad.getDvInit()};
        names.append({"dout", "dq", "dk", "dv"});
        // The backward's three passes, named from the op's marker.
        std::string symbol = marker.getValue().str();
        size_t at = symbol.find("_backward_");
        if (at == std::string::npos)
          return fail("an attention gradient's library kernel '" + symbol +
                      "' names no backward");
        json::Array symbols;
        for (StringRef pass : {"_stats_", "_key_grad_", "_query_grad_"})
          symbols.push_back(std::string(symbol).replace(at, 10, pass.str()));
        step = json::Object{{"op", "attention_grad"},
                            {"symbols", std::move(symbols)}};
        seqLen = grad.getSeqLen(), heads = grad.getHeads();
        kvHeads = grad.getKvHeads(), headDim = grad.getHeadDim();
      }
      auto ids = argBuffers(&op, operands, index);
      if (!ids)
        return ids.takeError();
      for (Value operand : operands)
        if (!isContiguous(cast<MemRefType>(operand.getType())) ||
            !cast<MemRefType>(operand.getType()).getElementType().isF32())
          return fail("an attention operand that is not a contiguous f32 "
                      "matrix");
      recordStep(*ids);
      int64_t rows = cast<MemRefType>(operands[0].getType()).getDimSize(0);
      step["batch"] = rows / seqLen;
      step["seq_len"] = seqLen;
      step["heads"] = heads;
      step["kv_heads"] = kvHeads;
      step["head_dim"] = headDim;
      for (auto [i, name] : llvm::enumerate(names)) {
        step[name] = (*ids)[i];
        step[(name + "_offset").str()] = byteOffsetOf(operands[i]);
      }
      steps.push_back(std::move(step));
    } else if (auto reduce = dyn_cast<growk::AllReduceOp>(op)) {
      // A whole buffer: the step reduces buffers, not views of them.
      auto type = cast<MemRefType>(reduce.getValue().getType());
      std::optional<unsigned> id = useBuffer(reduce.getValue(), index);
      if (!id || byteOffsetOf(reduce.getValue()) != 0 ||
          type.getNumElements() * 4 != buffers[*id].size)
        return fail("an all_reduce of a value that is not a whole buffer");
      PendingReduce pending;
      pending.buffer = *id;
      pending.reduction = reduce.getReduction();
      pending.ready = steps.size();
      if (Value when = reduce.getWhen()) {
        std::optional<unsigned> flag = useBuffer(when, index);
        if (!flag || byteOffsetOf(when) != 0)
          return fail("an all_reduce whose flag has no buffer");
        pending.when = *flag;
      }
      reduces.push_back(pending);
    } else if (auto copy = dyn_cast<memref::CopyOp>(op)) {
      // A copy of bytes onto themselves: what bufferization leaves of an
      // insert_slice whose source was computed in place (a GEMM writing its
      // rows of the LM head's gradient).
      std::optional<unsigned> from = bufferOf(copy.getSource());
      std::optional<unsigned> to = bufferOf(copy.getTarget());
      if (from && to && *from == *to &&
          byteOffsetOf(copy.getSource()) == byteOffsetOf(copy.getTarget()) &&
          copy.getSource().getType() == copy.getTarget().getType()) {
        buffers[*from].lastUse = std::max(buffers[*from].lastUse, index);
        continue;
      }
      auto target = dyn_cast<BlockArgument>(copy.getTarget());
      std::optional<unsigned> source = bufferOf(copy.getSource());
      if (!target || target.getArgNumber() < numInputs + numParams || !source)
        return fail("a copy that does not produce a model output");
      if (byteOffsetOf(copy.getSource()) != 0)
        return fail("a model output copied from a view at an offset");
      outputBuffer[target.getArgNumber() - numInputs - numParams] = *source;
      buffers[*source].persistent = true;
    } else if (!isa<func::ReturnOp>(op)) {
      return fail(llvm::formatv("unsupported op '{0}' in the host function",
                                op.getName()));
    }
  }
  insertAllReduceSteps(steps, stepBuffers, reduces);
  // Outputs written in place (hoisted allocations) are their own buffers.
  for (unsigned i = 0; i < numOutputs; ++i) {
    BlockArgument arg = body.getArgument(numInputs + numParams + i);
    if (!outputBuffer.count(i)) {
      std::optional<unsigned> id = bufferOf(arg);
      if (!id)
        id = newBuffer(arg, 0, true);
      buffers[*id].persistent = true;
      outputBuffer[i] = *id;
    }
    auto entry = tensorEntry(cast<StringAttr>(outputNames[i]).getValue(), arg,
                             outputBuffer[i]);
    if (!entry)
      return entry.takeError();
    outputs.push_back(std::move(*entry));
  }
  auto sources = host->getAttrOfType<ArrayAttr>("growc.param_sources");
  auto copies = host->getAttrOfType<ArrayAttr>("growc.param_copies");
  for (auto [i, name] : llvm::enumerate(paramNames)) {
    auto entry = tensorEntry(cast<StringAttr>(name).getValue(),
                             body.getArgument(numInputs + i), numInputs + i);
    if (!entry)
      return entry.takeError();
    // Provenance travels with the artifact (DESIGN.md "Growth is data").
    if (sources && copies && i < sources.size() && i < copies.size()) {
      (*entry)["source"] = cast<StringAttr>(sources[i]).getValue();
      (*entry)["copy"] = cast<BoolAttr>(copies[i]).getValue();
    }
    params.push_back(std::move(*entry));
  }

  assignOffsets();
  json::Array bufferList;
  int64_t arenaSize = 0;
  for (auto [id, buffer] : llvm::enumerate(buffers)) {
    bufferList.push_back(json::Object{
        {"id", int64_t(id)}, {"offset", buffer.offset}, {"size", buffer.size}});
    arenaSize = std::max(arenaSize, alignUp(buffer.offset + buffer.size));
  }

  json::Object plan{{"format", "growc-plan"},
                    {"version", 1},
                    {"graph", graphName},
                    {"target", target},
                    {"model", host.getSymName()},
                    {"kernels_file", kernelsFile},
                    {"batch", batch.getInt()},
                    {"seq", seq.getInt()},
                    {"vocab_size", vocab.getInt()},
                    {"alignment", kAlignment},
                    {"arena_size", arenaSize},
                    {"buffers", std::move(bufferList)},
                    {"inputs", std::move(inputs)},
                    {"params", std::move(params)},
                    {"outputs", std::move(outputs)},
                    {"kernels", std::move(kernels)},
                    {"steps", std::move(steps)}};
  // Gradient accumulation: the runtime runs this many micro-batches per
  // optimizer step (the last with apply = 1).
  if (auto micro = host->getAttrOfType<IntegerAttr>("growc.micro_batches"))
    plan["micro_batches"] = micro.getInt();
  return plan;
}

} // namespace

llvm::Expected<json::Object> growc::emitPlan(ModuleOp module, StringRef target,
                                             StringRef kernelsFile,
                                             int64_t allReduceBucketBytes) {
  SmallVector<func::FuncOp> hosts;
  for (auto func : module.getOps<func::FuncOp>())
    if (func->hasAttr("growc.param_names"))
      hosts.push_back(func);
  if (hosts.size() != 1)
    return fail(llvm::formatv("expected one forward function, found {0}",
                              hosts.size()));
  auto plan = PlanBuilder(hosts.front(), allReduceBucketBytes)
                  .build(target, kernelsFile);
  if (!plan)
    return plan.takeError();
  hosts.front().erase();
  return plan;
}

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
// The optimizer: the train graph's growk.adamw becomes one `adamw` step
// that runs elementwise over flat regions, so its lists (parameters,
// moments, gradient sums, gradients) are placed here as regions with one
// element layout (docs/plan.md). Under mixed precision the parameters'
// bf16 copies (host arguments appended by growc-demote-activations) are
// persistent buffers named by each parameter's `bf16_copy`; the adamw
// step's `bf16_params` list is one more region, at half the byte offsets.
//
//===----------------------------------------------------------------------===//

#include "growc/AttrNames.h"
#include "growc/Codegen/Codegen.h"
#include "growc/Codegen/FlashAttentionKernels.h"

#include "dialects/Grow/GrowOps.h"
#include "dialects/Kernel/KernelOps.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "llvm/Support/FormatVariadic.h"

using namespace mlir;
using namespace growc;

namespace {

constexpr int64_t kAlignment = 64;
/// Where an adamw region starts, and the element multiple each of its
/// tensors is padded to (32 floats: 128 bytes), so that every tensor of a
/// region starts 128-byte aligned for the GPU's vector accesses.
constexpr int64_t kRegionAlignment = 128, kRegionElements = 32;
using growc::growk::GemmCall;

llvm::Error fail(const llvm::Twine &message) {
  return llvm::createStringError(llvm::inconvertibleErrorCode(),
                                 "plan emission: " + message);
}

int64_t alignUp(int64_t value) {
  return (value + kAlignment - 1) / kAlignment * kAlignment;
}

/// The plan's element type of a memref element type.
std::optional<rt::DType> dtypeOf(Type type) {
  if (type.isF32())
    return rt::DType::F32;
  if (type.isBF16())
    return rt::DType::BF16;
  if (type.isInteger(32))
    return rt::DType::I32;
  return std::nullopt;
}

std::vector<int64_t> shapeOf(MemRefType type) {
  return std::vector<int64_t>(type.getShape().begin(), type.getShape().end());
}

/// One arena allocation.
struct Buffer {
  int64_t size = 0;
  int64_t offset = -1;
  /// Op indices of the first definition and the last use; persistent
  /// buffers (parameters, inputs, outputs) live for the whole run.
  int64_t firstUse = 0, lastUse = 0;
  bool persistent = false;
  /// A completion counter (attr::kZeroedBuffer): persistent, and zeroed by
  /// the runtime before the first run.
  bool zeroed = false;
};

/// A gradient to reduce over the ranks (a growk.all_reduce of the host).
struct PendingReduce {
  unsigned buffer = 0;
  int64_t when = -1; ///< flag buffer, -1: always
  rt::PlanReduction reduction = rt::PlanReduction::Mean;
  /// Steps [ready, deadline) may hold its all_reduce: after the last step
  /// that touches the buffer before the op, before the first one after it.
  size_t ready = 0, deadline = 0;
};

class PlanBuilder {
public:
  PlanBuilder(func::FuncOp host, int64_t bucketBytes)
      : host(host), bucketBytes(bucketBytes) {}

  llvm::Expected<rt::Plan> build(StringRef target, StringRef kernelsFile);

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
  /// The buffer of a value used at op `index`, whose lifetime that use
  /// extends.
  std::optional<unsigned> useBuffer(Value value, int64_t index);
  /// The buffers of `values`, used at op `index`.
  llvm::Expected<std::vector<int64_t>>
  argBuffers(Operation *op, ValueRange values, int64_t index);
  /// Appends `step`, remembering which buffers it touches.
  void addStep(rt::PlanStep step, ArrayRef<int64_t> touched);
  /// A named tensor from byte `offset` of `buffer`.
  llvm::Expected<rt::PlanTensor>
  tensorEntry(StringRef name, Value value, unsigned buffer, int64_t offset = 0);
  /// Which parameter a host argument is, or whose bf16 copy (true).
  std::optional<std::pair<unsigned, bool>> paramOf(Value value) const;

  // One function per host op that becomes (part of) a step.
  llvm::Error addView(Operation &op, int64_t index);
  llvm::Error addKernelCall(func::CallOp call, int64_t index);
  llvm::Error addGemm(linalg::GenericOp generic, int64_t index);
  llvm::Error addAttention(Operation &op, int64_t index);
  llvm::Error addAllReduce(growk::AllReduceOp reduce, int64_t index);
  llvm::Error addAdamW(growk::AdamWOp adamw, int64_t index);
  llvm::Error addCopy(memref::CopyOp copy, int64_t index);

  /// Fused projections: the parameters whose rows a GEMM reads as one
  /// matrix (a tensor.concat, bufferized into an allocation filled by
  /// copies of the arguments) share one buffer, in that order, and so do
  /// their bf16 copies and their optimizer state (the adamw step's lists
  /// are per buffer). Finds the groups and the allocations that become
  /// views of them.
  llvm::Error findParamGroups();
  /// The arguments' buffers: one per argument, or one per group.
  void addArgumentBuffers();
  /// The leading argument of parameter `index` or of its bf16 copy.
  BlockArgument paramArg(unsigned index) const {
    return body->getArgument(numInputs + index);
  }

  void assignOffsets();
  /// Groups `reduces` into buckets of at most `bucketBytes` (a gradient
  /// larger than that is a bucket of its own) and inserts their steps.
  void insertAllReduceSteps();

  func::FuncOp host;
  int64_t bucketBytes;
  bool nvptx = false;
  rt::Plan plan;
  unsigned numInputs = 0, numParams = 0, numCopies = 0;
  /// The bf16 copy argument of each parameter (index in the plan's
  /// params) that has one.
  DenseMap<unsigned, BlockArgument> copyArgs;
  /// Parameter groups (indices in the plan's params, in buffer order), and
  /// the group of each grouped parameter.
  SmallVector<SmallVector<unsigned>> paramGroups;
  DenseMap<unsigned, unsigned> groupOf;
  /// Allocations that are a concatenation of grouped arguments (the group,
  /// and whether of their bf16 copies), and the copies that filled them.
  DenseMap<Operation *, std::pair<unsigned, bool>> concatAllocs;
  DenseSet<Operation *> concatFills;
  /// The copy buffer of each parameter buffer that has one.
  DenseMap<unsigned, unsigned> copyBufferOf;
  /// Output index -> byte offset in its buffer (a parameter of a group).
  DenseMap<unsigned, int64_t> outputOffset;

  /// Arguments up to the first out-parameter: inputs, parameters, copies.
  unsigned numLeading() const { return numInputs + numParams + numCopies; }
  Block *body = nullptr;
  SmallVector<Buffer> buffers;
  DenseMap<Value, unsigned> bufferIds;
  DenseMap<Value, int64_t> byteOffsets;
  llvm::StringMap<unsigned> kernelIndex;
  DenseMap<unsigned, unsigned> outputBuffer; // output index -> buffer
  /// The buffers each step touches, and the gradients to reduce.
  SmallVector<SmallVector<unsigned>> stepBuffers;
  SmallVector<PendingReduce> reduces;
  /// The adamw step's lists, each placed as one flat region, with the
  /// bytes of its elements (4, or 2 for the bf16 copies).
  SmallVector<std::pair<SmallVector<unsigned>, int64_t>> regions;
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

std::optional<std::pair<unsigned, bool>>
PlanBuilder::paramOf(Value value) const {
  auto arg = dyn_cast<BlockArgument>(value);
  if (!arg || arg.getOwner() != body)
    return std::nullopt;
  unsigned number = arg.getArgNumber();
  if (number >= numInputs && number < numInputs + numParams)
    return std::make_pair(number - numInputs, false);
  for (auto [index, copy] : copyArgs)
    if (copy == arg)
      return std::make_pair(index, true);
  return std::nullopt;
}

llvm::Error PlanBuilder::findParamGroups() {
  auto paramNames = host->getAttrOfType<ArrayAttr>(attr::kParamNames);
  auto nameOf = [&](unsigned index) {
    return cast<StringAttr>(paramNames[index]).getValue();
  };
  // A group once, however many concatenations read it; a parameter in two
  // different groups cannot lie in both orders at once.
  auto addGroup = [&](ArrayRef<unsigned> members) -> llvm::Expected<unsigned> {
    for (auto [g, group] : llvm::enumerate(paramGroups))
      if (ArrayRef<unsigned>(group) == members)
        return unsigned(g);
    for (unsigned member : members)
      if (groupOf.count(member))
        return fail("parameter '" + nameOf(member) +
                    "' is concatenated with different parameters in two "
                    "places; one buffer cannot hold both orders");
    unsigned g = paramGroups.size();
    paramGroups.emplace_back(members.begin(), members.end());
    for (unsigned member : members)
      groupOf[member] = g;
    return g;
  };
  // tensor.concat bufferized: an allocation whose row blocks are filled by
  // copies of arguments (memref.subview + memref.copy), read as a whole.
  for (Operation &op : *body) {
    auto alloc = dyn_cast<memref::AllocOp>(op);
    if (!alloc)
      continue;
    struct Part {
      int64_t offset;
      std::pair<unsigned, bool> param;
      Operation *view, *fill;
    };
    SmallVector<Part> parts;
    bool concat = true;
    for (Operation *user : alloc->getUsers()) {
      auto view = dyn_cast<memref::SubViewOp>(user);
      if (!view) {
        // Only GEMMs read the whole: nothing may write the parameters'
        // bytes through it.
        auto gemm = dyn_cast<linalg::GenericOp>(user);
        if (!gemm ||
            llvm::is_contained(gemm.getDpsInits(), alloc.getResult())) {
          concat = false;
          break;
        }
        continue;
      }
      auto fill = view->hasOneUse()
                      ? dyn_cast<memref::CopyOp>(*view->getUsers().begin())
                      : memref::CopyOp();
      std::optional<std::pair<unsigned, bool>> param;
      if (fill && fill.getTarget() == view.getResult())
        param = paramOf(fill.getSource());
      SmallVector<int64_t> strides;
      int64_t offset;
      if (!param ||
          failed(view.getType().getStridesAndOffset(strides, offset)) ||
          ShapedType::isDynamic(offset) || !isContiguous(view.getType())) {
        concat = false;
        break;
      }
      parts.push_back({offset, *param, view, fill});
    }
    if (!concat || parts.empty())
      continue;
    llvm::sort(parts, [](const Part &a, const Part &b) {
      return a.offset < b.offset;
    });
    int64_t next = 0;
    for (const Part &part : parts) {
      if (part.offset != next || part.param.second != parts[0].param.second)
        concat = false;
      next +=
          cast<MemRefType>(part.view->getResult(0).getType()).getNumElements();
    }
    if (!concat || next != alloc.getType().getNumElements())
      continue;
    SmallVector<unsigned> members = llvm::map_to_vector(
        parts, [](const Part &part) { return part.param.first; });
    auto group = addGroup(members);
    if (!group)
      return group.takeError();
    concatAllocs[alloc] = {*group, parts[0].param.second};
    for (const Part &part : parts) {
      concatFills.insert(part.view);
      concatFills.insert(part.fill);
    }
  }
  // The optimizer's state follows the grouping of its parameters: the
  // adamw step's lists have one layout (docs/plan.md).
  for (auto adamw : body->getOps<growk::AdamWOp>()) {
    SmallVector<int64_t> listed;
    for (Value param : adamw.getParams()) {
      auto index = paramOf(param);
      listed.push_back(index && !index->second ? int64_t(index->first) : -1);
    }
    for (unsigned g = 0, e = paramGroups.size(); g < e; ++g) {
      SmallVector<unsigned> group = paramGroups[g];
      auto at = llvm::find(listed, int64_t(group[0]));
      size_t first = at - listed.begin();
      bool whole = at != listed.end() && first + group.size() <= listed.size();
      for (size_t i = 0; whole && i < group.size(); ++i)
        whole = listed[first + i] == int64_t(group[i]);
      if (!whole) {
        if (llvm::any_of(group, [&](unsigned member) {
              return llvm::is_contained(listed, int64_t(member));
            }))
          return fail("the adamw step does not list the parameters that "
                      "share a buffer (from '" +
                      nameOf(group[0]) + "') together and in order");
        continue; // frozen
      }
      for (ValueRange list :
           {adamw.getExpAvg(), adamw.getExpAvgSq(), adamw.getGradSums()}) {
        if (list.empty())
          continue;
        SmallVector<unsigned> state;
        for (size_t i = 0; i < group.size(); ++i) {
          auto index = paramOf(list[first + i]);
          if (!index || index->second)
            return fail("the adamw step's optimizer state of '" +
                        nameOf(group[i]) + "' is not a parameter");
          state.push_back(index->first);
        }
        if (auto added = addGroup(state); !added)
          return added.takeError();
      }
    }
  }
  // A group's bf16 copies are one buffer too, in the same order.
  for (ArrayRef<unsigned> group : paramGroups) {
    size_t copies = llvm::count_if(
        group, [&](unsigned member) { return copyArgs.count(member); });
    if (copies != 0 && copies != group.size())
      return fail("only some of the parameters that share a buffer (from '" +
                  nameOf(group[0]) + "') have a bf16 copy");
  }
  return llvm::Error::success();
}

void PlanBuilder::addArgumentBuffers() {
  auto bytesOf = [](Value value) {
    auto type = cast<MemRefType>(value.getType());
    return type.getNumElements() * ((type.getElementTypeBitWidth() + 7) / 8);
  };
  for (BlockArgument arg : body->getArguments().take_front(numLeading())) {
    if (bufferIds.count(arg))
      continue;
    auto param = paramOf(arg);
    if (!param || !groupOf.count(param->first)) {
      newBuffer(arg, 0, /*persistent=*/true);
      continue;
    }
    // The whole group (or its copies) at once, in the group's order.
    ArrayRef<unsigned> group = paramGroups[groupOf[param->first]];
    auto member = [&](unsigned index) -> Value {
      return param->second ? Value(copyArgs[index]) : Value(paramArg(index));
    };
    unsigned id = newBuffer(member(group[0]), 0, /*persistent=*/true);
    int64_t offset = 0;
    for (unsigned index : group) {
      bufferIds[member(index)] = id;
      byteOffsets[member(index)] = offset;
      offset += bytesOf(member(index));
    }
    buffers[id].size = offset;
  }
}

void PlanBuilder::assignOffsets() {
  // The adamw step's regions first: the k-th buffer of every list at the
  // same distance D_k = 4 * sum_{j<k} roundUp(n_j, 32) from its list's
  // start (D_k / 2 in the bf16 copies' list), and nothing else in a region
  // (its gaps stay zero). Then the other persistent buffers, back to back;
  // then first-fit by lifetime for the intermediates, in order of
  // definition.
  int64_t end = 0;
  for (auto &[region, elementBytes] : regions) {
    end = (end + kRegionAlignment - 1) / kRegionAlignment * kRegionAlignment;
    int64_t distance = 0;
    for (unsigned id : region) {
      buffers[id].offset = end + distance;
      int64_t elements = buffers[id].size / elementBytes;
      distance += elementBytes * ((elements + kRegionElements - 1) /
                                  kRegionElements * kRegionElements);
    }
    end = alignUp(buffers[region.back()].offset + buffers[region.back()].size);
  }
  for (Buffer &buffer : buffers)
    if (buffer.persistent && buffer.offset < 0) {
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

void PlanBuilder::insertAllReduceSteps() {
  std::vector<rt::PlanStep> &steps = plan.steps;
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
    rt::PlanReduction reduction = rt::PlanReduction::Mean;
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
  std::vector<rt::PlanStep> merged;
  size_t next = 0;
  for (size_t i = 0; i <= steps.size(); ++i) {
    for (; next < buckets.size() && buckets[next].position == i; ++next) {
      rt::PlanStep reduce;
      reduce.op = rt::PlanStep::Op::AllReduce;
      reduce.buffers.assign(buckets[next].buffers.begin(),
                            buckets[next].buffers.end());
      reduce.reduction = buckets[next].reduction;
      reduce.when = buckets[next].when;
      merged.push_back(std::move(reduce));
    }
    if (i < steps.size())
      merged.push_back(std::move(steps[i]));
  }
  steps = std::move(merged);
}

std::optional<unsigned> PlanBuilder::useBuffer(Value v, int64_t index) {
  std::optional<unsigned> id = bufferOf(v);
  // An out-parameter written in place (a hoisted allocation) is its own
  // persistent buffer from its first use on.
  auto arg = dyn_cast<BlockArgument>(v);
  if (!id && arg && arg.getOwner() == body &&
      arg.getArgNumber() >= numLeading())
    id = newBuffer(arg, 0, /*persistent=*/true);
  if (id)
    buffers[*id].lastUse = std::max(buffers[*id].lastUse, index);
  return id;
}

llvm::Expected<std::vector<int64_t>>
PlanBuilder::argBuffers(Operation *op, ValueRange values, int64_t index) {
  std::vector<int64_t> ids;
  for (Value v : values) {
    std::optional<unsigned> id = useBuffer(v, index);
    if (!id)
      return fail(
          llvm::formatv("'{0}' reads a value with no buffer", op->getName()));
    ids.push_back(*id);
  }
  return ids;
}

void PlanBuilder::addStep(rt::PlanStep step, ArrayRef<int64_t> touched) {
  stepBuffers.push_back(
      llvm::map_to_vector(touched, [](int64_t id) { return unsigned(id); }));
  plan.steps.push_back(std::move(step));
}

llvm::Expected<rt::PlanTensor> PlanBuilder::tensorEntry(StringRef name,
                                                        Value value,
                                                        unsigned buffer,
                                                        int64_t offset) {
  auto type = cast<MemRefType>(value.getType());
  std::optional<rt::DType> dtype = dtypeOf(type.getElementType());
  if (!dtype)
    return fail("tensor '" + name + "' has an unsupported element type");
  rt::PlanTensor tensor;
  tensor.name = name.str();
  tensor.buffer = buffer;
  tensor.offset = offset;
  tensor.dtype = *dtype;
  tensor.shape = shapeOf(type);
  return tensor;
}

/// A view (reshape, or a block of rows) uses its source's buffer.
llvm::Error PlanBuilder::addView(Operation &op, int64_t index) {
  if (isa<memref::ExpandShapeOp, memref::CollapseShapeOp>(op)) {
    std::optional<unsigned> id = useBuffer(op.getOperand(0), index);
    if (!id)
      return fail("a view of a value with no buffer");
    bufferIds[op.getResult(0)] = *id;
    byteOffsets[op.getResult(0)] = byteOffsetOf(op.getOperand(0));
    return llvm::Error::success();
  }
  // A block of rows (the chunked cross-entropy's slices of the LM head and
  // of its gradient): its source's buffer from an offset. The layout's
  // offset counts from the start of the underlying buffer.
  auto subview = cast<memref::SubViewOp>(op);
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
  return llvm::Error::success();
}

/// A call of a generated kernel: a `kernel` step (and the kernel's entry
/// the first time it is called).
llvm::Error PlanBuilder::addKernelCall(func::CallOp call, int64_t index) {
  auto [it, inserted] =
      kernelIndex.try_emplace(call.getCallee(), plan.kernels.size());
  if (inserted) {
    rt::PlanKernel kernel;
    kernel.name = call.getCallee().str();
    kernel.symbol = (call.getCallee() + "_packed").str();
    for (Type type : call.getOperandTypes()) {
      auto memref = cast<MemRefType>(type);
      std::optional<rt::DType> dtype = dtypeOf(memref.getElementType());
      if (!dtype)
        return fail("kernel '" + call.getCallee() +
                    "' has an unsupported argument type");
      rt::PlanKernelArg arg;
      arg.dtype = *dtype;
      arg.shape = shapeOf(memref);
      kernel.args.push_back(std::move(arg));
    }
    plan.kernels.push_back(std::move(kernel));
  }
  auto ids = argBuffers(call, call.getOperands(), index);
  if (!ids)
    return ids.takeError();
  // A completion counter argument is bound to the zeroed buffer by every
  // call (the runtime checks both ways).
  std::vector<rt::PlanKernelArg> &args = plan.kernels[it->second].args;
  for (auto [arg, id] : llvm::zip_equal(args, *ids)) {
    if (inserted)
      arg.zeroed = buffers[id].zeroed;
    else if (arg.zeroed != buffers[id].zeroed)
      return fail("kernel '" + call.getCallee() +
                  "' binds a completion counter argument to a buffer that "
                  "is not one, or an argument that is not a counter to one");
  }
  // Kernels get buffer starts (docs/plan.md); bufferization copies a view
  // into a kernel argument of its own.
  for (Value operand : call.getOperands())
    if (byteOffsetOf(operand) != 0)
      return fail("kernel '" + call.getCallee() +
                  "' reads a view at an offset into its buffer");
  rt::PlanStep step;
  step.op = rt::PlanStep::Op::Kernel;
  step.kernel = it->second;
  step.args = *ids;
  addStep(std::move(step), *ids);
  return llvm::Error::success();
}

/// A GEMM library call (growk.matmul after bufferization): a `gemm` step.
llvm::Error PlanBuilder::addGemm(linalg::GenericOp generic, int64_t index) {
  std::optional<GemmCall> call = GemmCall::parse(generic.getLibraryCallName());
  if (!call)
    return fail("a linalg op other than a GEMM library call is left in "
                "the host function");
  Operation *op = generic;
  auto a = cast<MemRefType>(generic.getDpsInputs()[0].getType());
  auto c = cast<MemRefType>(generic.getDpsInits()[0].getType());
  auto ids = argBuffers(op, op->getOperands(), index);
  if (!ids)
    return ids.takeError();
  for (Value operand : op->getOperands())
    if (!isContiguous(cast<MemRefType>(operand.getType())))
      return fail("a GEMM operand that is not a contiguous matrix");
  rt::PlanStep gemm;
  gemm.op = rt::PlanStep::Op::Gemm;
  gemm.a = (*ids)[0];
  gemm.b = (*ids)[1];
  gemm.c = (*ids)[2];
  gemm.aOffset = byteOffsetOf(op->getOperand(0));
  gemm.bOffset = byteOffsetOf(op->getOperand(1));
  gemm.cOffset = byteOffsetOf(op->getOperand(2));
  gemm.m = c.getDimSize(0);
  gemm.n = c.getDimSize(1);
  gemm.k = a.getDimSize(call->transposeA ? 0 : 1);
  gemm.transA = call->transposeA ? 1 : 0;
  gemm.transB = call->transposeB ? 1 : 0;
  gemm.beta = call->accumulate ? 1 : 0;
  // Element types other than all-f32 (--precision=bf16) are written with
  // the compute type; an fp32 plan names none (docs/plan.md).
  rt::DType *types[] = {&gemm.aType, &gemm.bType, &gemm.cType};
  for (auto [i, operand] : llvm::enumerate(op->getOperands())) {
    std::optional<rt::DType> dtype =
        dtypeOf(cast<MemRefType>(operand.getType()).getElementType());
    if (!dtype || *dtype == rt::DType::I32)
      return fail("a GEMM operand of an unsupported element type");
    *types[i] = *dtype;
  }
  addStep(std::move(gemm), *ids);
  return llvm::Error::success();
}

/// A library kernel's attention or attention gradient
/// (growc-attention-to-tensor-cores): the runtime launches the named entry
/// points on the operands (docs/plan.md).
llvm::Error PlanBuilder::addAttention(Operation &op, int64_t index) {
  auto marker = op.getAttrOfType<StringAttr>(attr::kLibraryKernel);
  if (!marker)
    return fail("an attention left in the host function without a "
                "library kernel");
  SmallVector<Value, 8> operands;
  rt::PlanStep step;
  // RoPE on load: q, k and v are column blocks of one matrix.
  std::optional<ArrayRef<int64_t>> columns;
  ValueRange ropeTables;
  if (auto forward = dyn_cast<growk::AttentionOp>(op)) {
    columns = forward.getColumns();
    ropeTables = forward.getRope();
    operands = {forward.getQ(), forward.getK(), forward.getV(),
                forward.getInit()};
    if (Value lse = forward.getLseInit())
      operands.push_back(lse);
    step.op = rt::PlanStep::Op::Attention;
    step.symbols = {marker.getValue().str()};
    step.seqLen = forward.getSeqLen(), step.heads = forward.getHeads();
    step.kvHeads = forward.getKvHeads(), step.headDim = forward.getHeadDim();
  } else {
    auto grad = cast<growk::AttentionGradOp>(op);
    columns = grad.getColumns();
    ropeTables = grad.getRope();
    operands = {grad.getQ(),      grad.getK(),      grad.getV(),
                grad.getO(),      grad.getDout(),   grad.getDqInit(),
                grad.getDkInit(), grad.getDvInit(), grad.getLse()};
    if (!grad.getLse())
      return fail("an attention gradient of the kernel library without its "
                  "forward's log-sum-exps (lse)");
    // The backward's two passes, named from the op's marker
    // (FlashAttentionKernels.h).
    std::string symbol = marker.getValue().str();
    std::optional<std::string> prep = flashBackwardPrepKernel(symbol);
    if (!prep)
      return fail("an attention gradient's library kernel '" + symbol +
                  "' names no backward");
    step.op = rt::PlanStep::Op::AttentionGrad;
    step.symbols = {*prep, symbol};
    step.seqLen = grad.getSeqLen(), step.heads = grad.getHeads();
    step.kvHeads = grad.getKvHeads(), step.headDim = grad.getHeadDim();
  }
  // The tables close the list (rt::PlanStep); a rope kernel takes them and
  // columns, and only it (the op's verifier).
  if (columns.has_value() != !ropeTables.empty())
    return fail("an attention reading column blocks without RoPE tables "
                "(or RoPE tables without column blocks)");
  llvm::append_range(operands, ropeTables);
  auto ids = argBuffers(&op, operands, index);
  if (!ids)
    return ids.takeError();
  // The activations (q, k, v; o and dout of the gradient) are f32 or bf16
  // alike, the forward's output f32 or bf16, the gradients and the
  // log-sum-exps f32 (the op's verifier); the plan records the first two.
  auto elementType = [](Value operand) {
    return cast<MemRefType>(operand.getType()).getElementType();
  };
  for (Value operand : operands)
    if (!isContiguous(cast<MemRefType>(operand.getType())) ||
        !(elementType(operand).isF32() || elementType(operand).isBF16()))
      return fail("an attention operand that is not a contiguous f32 or "
                  "bf16 matrix");
  auto dtypeOf = [&](Value operand) {
    return elementType(operand).isBF16() ? rt::DType::BF16 : rt::DType::F32;
  };
  step.activationType = dtypeOf(operands[0]);
  if (step.op == rt::PlanStep::Op::Attention)
    step.outputType = dtypeOf(operands[3]);
  int64_t rows = cast<MemRefType>(operands[0].getType()).getDimSize(0);
  step.batch = rows / step.seqLen;
  step.operands = *ids;
  for (Value operand : operands)
    step.operandOffsets.push_back(byteOffsetOf(operand));
  if (columns) {
    // Each of q, k and v from its column of the one matrix.
    auto type = cast<MemRefType>(operands[0].getType());
    step.rope = true;
    step.rowStride = type.getDimSize(1);
    int64_t elementBytes = type.getElementType().getIntOrFloatBitWidth() / 8;
    for (int i = 0; i < 3; ++i)
      step.operandOffsets[i] += (*columns)[i] * elementBytes;
  }
  addStep(std::move(step), *ids);
  return llvm::Error::success();
}

/// A gradient to reduce over the ranks: bucketed into `all_reduce` steps
/// once every step is known (insertAllReduceSteps).
llvm::Error PlanBuilder::addAllReduce(growk::AllReduceOp reduce,
                                      int64_t index) {
  // A whole buffer: the step reduces buffers, not views of them.
  auto type = cast<MemRefType>(reduce.getValue().getType());
  std::optional<unsigned> id = useBuffer(reduce.getValue(), index);
  if (!id || byteOffsetOf(reduce.getValue()) != 0 ||
      type.getNumElements() * 4 != buffers[*id].size)
    return fail("an all_reduce of a value that is not a whole buffer");
  PendingReduce pending;
  pending.buffer = *id;
  if (reduce.getReduction() == "mean")
    pending.reduction = rt::PlanReduction::Mean;
  else if (reduce.getReduction() == "sum")
    pending.reduction = rt::PlanReduction::Sum;
  else
    return fail("an all_reduce with the unknown reduction '" +
                reduce.getReduction() + "'");
  pending.ready = plan.steps.size();
  if (Value when = reduce.getWhen()) {
    std::optional<unsigned> flag = useBuffer(when, index);
    if (!flag || byteOffsetOf(when) != 0)
      return fail("an all_reduce whose flag has no buffer");
    pending.when = *flag;
  }
  reduces.push_back(pending);
  return llvm::Error::success();
}

/// The optimizer (growk.adamw): one `adamw` step over the flat regions of
/// its lists, which assignOffsets places. The parameters, moments and sums
/// must be the plan's parameters themselves (updated in place, so the
/// outputs named like them share their buffers); each gradient must be a
/// whole buffer of its own, which becomes persistent to join its region.
llvm::Error PlanBuilder::addAdamW(growk::AdamWOp adamw, int64_t index) {
  if (!regions.empty())
    return fail("more than one adamw step in the host function");
  SmallVector<unsigned> all;
  DenseSet<unsigned> paramBuffers;
  for (unsigned i = 0; i < numParams; ++i)
    paramBuffers.insert(*bufferOf(paramArg(i)));
  // Each list names buffers: a whole buffer per member, or blocks that
  // tile one buffer in order (the parameters of a group, the gradients of
  // fused projections), which are that buffer once.
  auto list = [&](StringRef name, ValueRange values, int64_t elementBytes,
                  auto &&checkMember) -> llvm::Expected<std::vector<int64_t>> {
    std::vector<int64_t> ids;
    int64_t covered = 0;
    auto whole = [&]() {
      return ids.empty() || covered == buffers[ids.back()].size;
    };
    for (auto [k, value] : llvm::enumerate(values)) {
      auto type = cast<MemRefType>(value.getType());
      std::optional<unsigned> id = useBuffer(value, index);
      std::string what = llvm::formatv("the adamw step's {0} #{1}", name, k);
      int64_t bytes = type.getNumElements() * elementBytes;
      if (elementBytes == 4 ? !type.getElementType().isF32()
                            : !type.getElementType().isBF16())
        return fail(what + " is not " + (elementBytes == 4 ? "f32" : "bf16"));
      if (id && !ids.empty() && unsigned(ids.back()) == *id) {
        if (byteOffsetOf(value) != covered)
          return fail(what + " is a block of the previous member's buffer "
                             "out of order");
        covered += bytes;
        continue;
      }
      if (!whole())
        return fail(llvm::formatv("the adamw step's {0} #{1} is part of a "
                                  "larger buffer the list does not cover",
                                  name, k - 1)
                        .str());
      if (!id || byteOffsetOf(value) != 0)
        return fail(what + " is not a whole buffer or the first block of "
                           "one (a view at an offset)");
      if (llvm::Error err = checkMember(what, *id, k))
        return std::move(err);
      if (llvm::is_contained(all, *id))
        return fail(what + " shares its buffer with another member of the "
                           "step's lists");
      all.push_back(*id);
      buffers[*id].persistent = true;
      ids.push_back(*id);
      covered = bytes;
    }
    if (!whole())
      return fail(llvm::formatv("the adamw step's {0} #{1} is part of a "
                                "larger buffer the list does not cover",
                                name, values.size() - 1)
                      .str());
    regions.emplace_back(SmallVector<unsigned>(ids.begin(), ids.end()),
                         elementBytes);
    return ids;
  };
  rt::PlanStep step;
  step.op = rt::PlanStep::Op::AdamW;
  std::pair<std::vector<int64_t> *, std::pair<StringRef, ValueRange>> lists[] =
      {{&step.adamParams, {"params", adamw.getParams()}},
       {&step.adamExpAvg, {"exp_avg", adamw.getExpAvg()}},
       {&step.adamExpAvgSq, {"exp_avg_sq", adamw.getExpAvgSq()}},
       {&step.adamGradSums, {"grad_sums", adamw.getGradSums()}},
       {&step.adamGrads, {"grads", adamw.getGrads()}}};
  for (auto &[field, named] : lists) {
    if (named.second.empty())
      continue;
    bool planParams = field != &step.adamGrads;
    auto checkMember = [&](const std::string &what, unsigned id,
                           size_t) -> llvm::Error {
      if (planParams && !paramBuffers.contains(id))
        return fail(what + " is not the plan parameter itself: "
                           "bufferization did not update it in place");
      bool isArgument = llvm::any_of(
          body->getArguments(), [&](Value arg) { return bufferOf(arg) == id; });
      if (!planParams && isArgument)
        return fail(what + " is a graph input or output, not a gradient "
                           "buffer of its own");
      return llvm::Error::success();
    };
    auto ids = list(named.first, named.second, 4, checkMember);
    if (!ids)
      return ids.takeError();
    *field = std::move(*ids);
  }
  // The bf16 copies (mixed precision): the k-th is the copy of params #k,
  // one more region at half the offsets.
  if (!adamw.getBf16Params().empty()) {
    auto checkCopy = [&](const std::string &, unsigned id,
                         size_t k) -> llvm::Error {
      size_t position = step.adamBf16Params.size();
      auto copy = position < step.adamParams.size()
                      ? copyBufferOf.find(step.adamParams[position])
                      : copyBufferOf.end();
      if (copy == copyBufferOf.end() || copy->second != id)
        return fail(llvm::formatv("the adamw step's bf16_params #{0} is not "
                                  "the bf16 copy of its params",
                                  k));
      step.adamBf16Params.push_back(id);
      return llvm::Error::success();
    };
    auto ids = list("bf16_params", adamw.getBf16Params(), 2, checkCopy);
    if (!ids)
      return ids.takeError();
    if (ids->size() != step.adamParams.size())
      return fail("the adamw step's bf16_params are not one copy per "
                  "params buffer");
  }
  // The scalars: F32 [1] buffers outside every region.
  std::pair<int64_t *, std::pair<StringRef, Value>> scalars[] = {
      {&step.adamLr, {"lr", adamw.getLr()}},
      {&step.adamStep, {"step", adamw.getStep()}},
      {&step.adamApply, {"apply", adamw.getApply()}},
      {&step.adamLossNonfinite, {"loss_nonfinite", adamw.getLossNonfinite()}},
      {&step.adamGradNorm, {"grad_norm", adamw.getGradNormInit()}},
      {&step.adamNonfinite, {"nonfinite", adamw.getNonfiniteInit()}}};
  std::vector<int64_t> touched;
  for (auto &[field, named] : scalars) {
    Value value = named.second;
    if (!value)
      continue;
    std::optional<unsigned> id = useBuffer(value, index);
    if (!id || byteOffsetOf(value) != 0 || buffers[*id].size != 4 ||
        llvm::is_contained(all, *id))
      return fail("the adamw step's " + named.first +
                  " is not a one-element buffer of its own");
    *field = *id;
    touched.push_back(*id);
  }
  // The step writes the norm and the flag, so they cannot be inputs.
  for (int64_t written : {step.adamGradNorm, step.adamNonfinite})
    if (written < numLeading() || llvm::count(touched, written) != 1)
      return fail("the adamw step's grad_norm and nonfinite must be fresh "
                  "buffers of their own");
  step.beta1 = adamw.getBeta1().convertToDouble();
  step.beta2 = adamw.getBeta2().convertToDouble();
  step.eps = adamw.getEps().convertToDouble();
  step.weightDecay = adamw.getWeightDecay().convertToDouble();
  step.maxGradNorm = adamw.getMaxGradNorm().convertToDouble();
  // The kernel library's entry points (lib/Codegen/Kernels/Optimizer.cu);
  // the CPU runtime runs the step itself.
  if (nvptx)
    step.symbols = {"growc_adamw_sumsq", "growc_adamw_scalars",
                    "growc_adamw_update"};
  llvm::append_range(touched, all);
  addStep(std::move(step), touched);
  return llvm::Error::success();
}

/// A copy into an out-parameter: that output lives in the copied buffer.
llvm::Error PlanBuilder::addCopy(memref::CopyOp copy, int64_t index) {
  // A copy of bytes onto themselves: what bufferization leaves of an
  // insert_slice whose source was computed in place (a GEMM writing its
  // rows of the LM head's gradient).
  std::optional<unsigned> from = bufferOf(copy.getSource());
  std::optional<unsigned> to = bufferOf(copy.getTarget());
  if (from && to && *from == *to &&
      byteOffsetOf(copy.getSource()) == byteOffsetOf(copy.getTarget()) &&
      copy.getSource().getType() == copy.getTarget().getType()) {
    buffers[*from].lastUse = std::max(buffers[*from].lastUse, index);
    return llvm::Error::success();
  }
  auto target = dyn_cast<BlockArgument>(copy.getTarget());
  std::optional<unsigned> source = bufferOf(copy.getSource());
  if (!target || target.getArgNumber() < numLeading() || !source)
    return fail("a copy that does not produce a model output");
  // A view at an offset: a parameter of a group (a train graph's next
  // value, updated in place) or another block of a buffer.
  outputBuffer[target.getArgNumber() - numLeading()] = *source;
  outputOffset[target.getArgNumber() - numLeading()] =
      byteOffsetOf(copy.getSource());
  buffers[*source].persistent = true;
  return llvm::Error::success();
}

llvm::Expected<rt::Plan> PlanBuilder::build(StringRef target,
                                            StringRef kernelsFile) {
  auto paramNames = host->getAttrOfType<ArrayAttr>(attr::kParamNames);
  auto outputNames = host->getAttrOfType<ArrayAttr>(attr::kOutputNames);
  StringRef graphName = "forward";
  if (auto graph = host->getAttrOfType<StringAttr>(attr::kGraph))
    graphName = graph.getValue();
  auto batch = host->getAttrOfType<IntegerAttr>(attr::kBatch);
  auto seq = host->getAttrOfType<IntegerAttr>(attr::kSeq);
  auto vocab = host->getAttrOfType<IntegerAttr>(attr::kVocabSize);
  if (!paramNames || !outputNames || !batch || !seq || !vocab)
    return fail("the host function lacks its growc.* attributes");
  body = &host.getBody().front();
  nvptx = target == "nvptx";
  // Inputs come first: `tokens`, and `targets` for a loss graph.
  SmallVector<StringRef> inputNames = {"tokens"};
  if (auto names = host->getAttrOfType<ArrayAttr>(attr::kInputNames))
    inputNames = llvm::map_to_vector(names, [](Attribute name) {
      return cast<StringAttr>(name).getValue();
    });
  numInputs = inputNames.size();
  numParams = paramNames.size();
  // Mixed precision: the parameters' bf16 copies, appended after them.
  auto copyParams = host->getAttrOfType<ArrayAttr>(attr::kParamBf16Copies);
  numCopies = copyParams ? copyParams.size() : 0;
  unsigned numOutputs = outputNames.size();
  if (body->getNumArguments() != numLeading() + numOutputs)
    return fail(llvm::formatv("host function has {0} arguments, expected "
                              "{1} inputs + {2} parameters + {3} bf16 copies "
                              "+ {4} outputs",
                              body->getNumArguments(), numInputs, numParams,
                              numCopies, numOutputs));

  // Arguments: inputs, parameters, the copies, then one out-parameter per
  // output.
  for (auto [i, attr] : llvm::enumerate(copyParams ? copyParams.getValue()
                                                   : ArrayRef<Attribute>())) {
    auto param = dyn_cast<IntegerAttr>(attr);
    BlockArgument copy = body->getArgument(numInputs + numParams + i);
    if (!param || param.getInt() < 0 || param.getInt() >= numParams ||
        copyArgs.count(param.getInt()))
      return fail("the host function's bf16 copies do not name distinct "
                  "parameters");
    auto type = cast<MemRefType>(copy.getType());
    auto paramType = cast<MemRefType>(paramArg(param.getInt()).getType());
    if (!type.getElementType().isBF16() ||
        type.getShape() != paramType.getShape())
      return fail(llvm::formatv("the bf16 copy of parameter #{0} is not a "
                                "bf16 tensor of its shape",
                                param.getInt()));
    copyArgs[param.getInt()] = copy;
  }
  if (llvm::Error err = findParamGroups())
    return std::move(err);
  addArgumentBuffers();
  for (auto [index, copy] : copyArgs)
    copyBufferOf[*bufferOf(paramArg(index))] = *bufferOf(copy);
  for (auto [i, name] : llvm::enumerate(inputNames)) {
    auto input = tensorEntry(name, body->getArgument(i),
                             *bufferOf(body->getArgument(i)));
    if (!input)
      return input.takeError();
    plan.inputs.push_back(std::move(*input));
  }

  // Walk the host ops: allocations and views define buffers; kernel calls,
  // GEMMs and library attention become steps; a copy into an out-parameter
  // makes that output live in the copied buffer.
  int64_t index = 0;
  for (Operation &op : *body) {
    ++index;
    llvm::Error err = llvm::Error::success();
    if (concatFills.contains(&op))
      continue; // the group's buffer holds these rows already
    if (auto alloc = dyn_cast<memref::AllocOp>(op)) {
      if (!alloc.getType().hasStaticShape())
        return fail("dynamic allocation in the host function");
      if (auto it = concatAllocs.find(alloc); it != concatAllocs.end()) {
        // Parameters' rows one after another: their shared buffer.
        unsigned first = paramGroups[it->second.first].front();
        Value arg =
            it->second.second ? Value(copyArgs[first]) : Value(paramArg(first));
        bufferIds[alloc.getResult()] = *bufferOf(arg);
        continue;
      }
      // A completion counter lives across runs, apart from every other
      // buffer: its kernels leave it at zero for the next launch.
      bool zeroed = alloc->hasAttr(attr::kZeroedBuffer);
      unsigned id = newBuffer(alloc.getResult(), index, zeroed);
      buffers[id].zeroed = zeroed;
    } else if (isa<memref::ExpandShapeOp, memref::CollapseShapeOp,
                   memref::SubViewOp>(op)) {
      err = addView(op, index);
    } else if (auto call = dyn_cast<func::CallOp>(op)) {
      err = addKernelCall(call, index);
    } else if (auto generic = dyn_cast<linalg::GenericOp>(op)) {
      err = addGemm(generic, index);
    } else if (isa<growk::AttentionOp, growk::AttentionGradOp>(op)) {
      err = addAttention(op, index);
    } else if (auto reduce = dyn_cast<growk::AllReduceOp>(op)) {
      err = addAllReduce(reduce, index);
    } else if (auto adamw = dyn_cast<growk::AdamWOp>(op)) {
      err = addAdamW(adamw, index);
    } else if (auto copy = dyn_cast<memref::CopyOp>(op)) {
      err = addCopy(copy, index);
    } else if (!isa<func::ReturnOp>(op)) {
      return fail(llvm::formatv("unsupported op '{0}' in the host function",
                                op.getName()));
    }
    if (err)
      return std::move(err);
  }
  insertAllReduceSteps();
  // Outputs written in place (hoisted allocations) are their own buffers.
  for (unsigned i = 0; i < numOutputs; ++i) {
    BlockArgument arg = body->getArgument(numLeading() + i);
    if (!outputBuffer.count(i)) {
      std::optional<unsigned> id = bufferOf(arg);
      if (!id)
        id = newBuffer(arg, 0, true);
      buffers[*id].persistent = true;
      outputBuffer[i] = *id;
    }
    auto entry = tensorEntry(cast<StringAttr>(outputNames[i]).getValue(), arg,
                             outputBuffer[i], outputOffset.lookup(i));
    if (!entry)
      return entry.takeError();
    plan.outputs.push_back(std::move(*entry));
  }
  auto sources = host->getAttrOfType<ArrayAttr>(attr::kParamSources);
  auto copies = host->getAttrOfType<ArrayAttr>(attr::kParamCopies);
  if (!sources || !copies || sources.size() != numParams ||
      copies.size() != numParams)
    return fail("the host function lacks the parameters' provenance");
  // Absent where every parameter starts as its source's value.
  auto scales = host->getAttrOfType<DictionaryAttr>(attr::kParamScales);
  // Absent where nothing is frozen (growc-freeze-parameters).
  auto frozen = host->getAttrOfType<ArrayAttr>(attr::kParamFrozen);
  if (frozen && (frozen.size() != numParams ||
                 !llvm::all_of(frozen, llvm::IsaPred<BoolAttr>)))
    return fail("the host function's frozen flags do not match its "
                "parameters");
  for (auto [i, name] : llvm::enumerate(paramNames)) {
    BlockArgument arg = paramArg(i);
    auto entry = tensorEntry(cast<StringAttr>(name).getValue(), arg,
                             *bufferOf(arg), byteOffsetOf(arg));
    if (!entry)
      return entry.takeError();
    // Provenance travels with the artifact (DESIGN.md "Growth is data").
    rt::PlanParam param;
    static_cast<rt::PlanTensor &>(param) = std::move(*entry);
    param.source = cast<StringAttr>(sources[i]).getValue().str();
    param.copy = cast<BoolAttr>(copies[i]).getValue();
    if (scales)
      if (auto scale = scales.getAs<FloatAttr>(cast<StringAttr>(name)))
        param.scale = scale.getValueAsDouble();
    param.frozen = frozen && cast<BoolAttr>(frozen[i]).getValue();
    if (auto copy = copyArgs.find(i); copy != copyArgs.end())
      param.bf16Copy = *bufferOf(copy->second);
    plan.params.push_back(std::move(param));
  }

  assignOffsets();
  for (auto [id, buffer] : llvm::enumerate(buffers)) {
    plan.buffers.push_back(
        {int64_t(id), buffer.offset, buffer.size, buffer.zeroed});
    plan.arenaSize =
        std::max(plan.arenaSize, alignUp(buffer.offset + buffer.size));
  }
  plan.graph = graphName.str();
  plan.target = target.str();
  plan.model = host.getSymName().str();
  plan.kernelsFile = kernelsFile.str();
  plan.batch = batch.getInt();
  plan.seq = seq.getInt();
  plan.vocabSize = vocab.getInt();
  plan.alignment = kAlignment;
  // Gradient accumulation: the runtime runs this many micro-batches per
  // optimizer step (the last with apply = 1).
  if (auto micro = host->getAttrOfType<IntegerAttr>(attr::kMicroBatches))
    plan.microBatches = micro.getInt();
  return std::move(plan);
}

} // namespace

llvm::Expected<rt::Plan> growc::emitPlan(ModuleOp module, StringRef target,
                                         StringRef kernelsFile,
                                         int64_t allReduceBucketBytes) {
  SmallVector<func::FuncOp> hosts;
  for (auto func : module.getOps<func::FuncOp>())
    if (func->hasAttr(attr::kParamNames))
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

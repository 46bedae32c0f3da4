//===- CostModel.cpp - One step's GPU cost, from the plan alone -----------===//
//
// Walks the plan's steps in order, as CudaExecutor enqueues them, turning
// each into the graph nodes it becomes (a kernel step one launch, a GEMM
// one cuBLASLt call, an attention step one launch, an attention_grad step
// the library's two launches, the adamw step three), then adds the executor's
// commit copies (planNextValues: only next values outside their parameters'
// buffers). Each node gets its counted FLOPs and bytes and a roofline time, an
// attention launch's compute stretched by its simulated block imbalance and a
// generated kernel's memory time by its measured accesses (a memory profile);
// CostModel.h says what is counted and what is predicted.
//
//===----------------------------------------------------------------------===//

#include "growc/runtime/CostModel.h"
#include "growc/runtime/FlashAttentionLayout.h"

#include "growc/runtime/Json.h"
#include "growc/runtime/RunInterface.h"
#include "growc/runtime/Text.h"
#include "growc/runtime/TrainLoop.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <iterator>
#include <map>
#include <queue>
#include <set>
#include <string_view>
#include <utility>

namespace growc::rt {

namespace {

/// The kernel library's attention tiles (lib/Codegen/Kernels/
/// FlashAttention.cu: kBlockRows query rows by kBlockKeys keys): each
/// query tile computes every key tile up to and including the diagonal
/// one whole, masking inside it.
constexpr int64_t kAttentionTile = 64;

/// Whether the forward's blocks are dispatched heaviest first
/// (FlashAttention.cu's placeHeavyFirst: the n-th heads x samples blocks
/// dispatched take the n-th heaviest query tile, the last one first) or in
/// grid order (block x takes query tile x). The backward's main pass
/// dispatches its key tiles heaviest first (key tile 0 first).
constexpr bool kForwardHeaviestFirst = true;

/// The device names gpuRatesFor asks Throughput.h's table about: what
/// cuDeviceGetName reports for the SXM parts.
struct KnownGpu {
  std::string_view key, deviceName;
  int64_t sms; ///< the SXM parts' SM count (H100 and H200 whitepapers)
};
constexpr KnownGpu kKnownGpus[] = {
    {"h100", "NVIDIA H100 80GB HBM3", 132},
    {"h200", "NVIDIA H200", 132},
};

/// 1234567 as "1,234,567".
std::string withCommas(int64_t value) {
  std::string digits = std::to_string(value < 0 ? -value : value), out;
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0)
      out += ',';
    out += digits[i];
  }
  return value < 0 ? "-" + out : out;
}

/// `value` with an SI prefix and four significant digits: "7.054 TFLOP",
/// "65.06 GB", "12 B".
std::string si(double value, const char *unit) {
  static const char *const kPrefixes[] = {"", "k", "M", "G", "T", "P", "E"};
  size_t i = 0;
  while (i + 1 < std::size(kPrefixes) && std::fabs(value) >= 999.95)
    value /= 1000, ++i;
  return printfString(i == 0 ? "%.0f %s%s" : "%.4g %s%s", value, kPrefixes[i],
                      unit);
}

/// Which rate bounds a launch's arithmetic.
enum class Rate { None, Bf16Gemm, Fp32Gemm, Attention };

/// One graph node's work.
struct Node {
  size_t kind = 0; ///< index into StepCost::kinds
  double flops = 0, bytes = 0;
  Rate rate = Rate::None;
  /// An attention launch's simulated makespan over its balanced time: its
  /// compute time's factor.
  double imbalance = 1;
  /// A measured kernel's sectors over the ideal (the traffic its bytes
  /// really take, at the limit too) and its bandwidth factor (predicted
  /// only: an efficiency).
  double sectorRatio = 1, bandwidthFactor = 1;
  /// A simulated attention launch: its kind (AttentionBalance::kind), the
  /// slots it runs on, its blocks, their tile pairs and the most one block
  /// does.
  const char *launchKind = nullptr;
  int64_t slots = 0, blocks = 0, pairs = 0, maxBlockPairs = 0;
};

enum KindIndex : size_t {
  kKernel,
  kGemm,
  kAttention,
  kOptimizer,
  kCopy,
  kKinds
};
constexpr const char *kKindNames[kKinds] = {"kernel", "gemm", "attention",
                                            "optimizer", "copy"};

/// Seconds of `node` at the given fractions of the peaks and bandwidth,
/// node cost included.
double nodeSeconds(const Node &node, const GpuRates &gpu,
                   const CostAssumptions &a, bool atLimit) {
  double computeRate = 0;
  switch (node.rate) {
  case Rate::None:
    break;
  case Rate::Bf16Gemm:
    computeRate = gpu.bf16.tflops * (atLimit ? 1 : a.gemmEfficiency);
    break;
  case Rate::Fp32Gemm:
    computeRate = gpu.fp32.tflops * (atLimit ? 1 : a.gemmEfficiency);
    break;
  case Rate::Attention:
    computeRate = gpu.bf16.tflops * (atLimit ? 1 : a.attentionEfficiency);
    break;
  }
  double compute =
      computeRate > 0 ? node.flops * node.imbalance / (computeRate * 1e12) : 0;
  double memory = node.bytes * node.sectorRatio /
                  (gpu.memory.terabytesPerSecond * 1e12 *
                   (atLimit ? 1 : a.memoryEfficiency * node.bandwidthFactor));
  return std::max(compute, memory) + a.nodeMicroseconds * 1e-6;
}

/// Bytes a generated kernel's launch reads or writes at least: each of its
/// arguments once (on the GPU, those its launch passes).
double kernelBytes(const PlanKernel &kernel) {
  double bytes = 0;
  if (kernel.launch) {
    for (int64_t param : kernel.launch->params)
      bytes += double(kernel.args[param].byteSize);
    return bytes;
  }
  for (const PlanKernelArg &arg : kernel.args)
    bytes += double(arg.byteSize);
  return bytes;
}

/// A kernel whose only work is an f32 tensor's bf16 copy.
bool isPureCast(const PlanKernel &kernel) {
  return kernel.args.size() == 2 && kernel.args[0].dtype == DType::F32 &&
         kernel.args[1].dtype == DType::BF16 &&
         kernel.args[0].numElements == kernel.args[1].numElements;
}

/// One attention launch's blocks in dispatch order, each as the 64x64
/// tile pairs it computes: `nTiles` tiles (blockIdx.x) for each of
/// `copies` (heads x samples), tile t doing `pairs(t)`. In grid
/// order (x fastest: block x takes tile x) or heaviest first (the first
/// `copies` blocks dispatched take every copy's heaviest tile, the next
/// the second heaviest, ...).
template <typename Pairs>
std::vector<int64_t> attentionBlocks(int64_t nTiles, int64_t copies,
                                     bool heaviestFirst, Pairs pairs) {
  std::vector<int64_t> tiles(size_t(nTiles), 0), blocks;
  for (int64_t t = 0; t < nTiles; ++t)
    tiles[size_t(t)] = pairs(t);
  blocks.reserve(size_t(nTiles * copies));
  if (heaviestFirst) {
    std::sort(tiles.begin(), tiles.end(), std::greater<int64_t>());
    for (int64_t work : tiles)
      blocks.insert(blocks.end(), size_t(copies), work);
  } else {
    for (int64_t c = 0; c < copies; ++c)
      blocks.insert(blocks.end(), tiles.begin(), tiles.end());
  }
  return blocks;
}

/// Whether the forward attention step `s` writes the LSE (its fifth
/// operand; the RoPE tables, if any, come last).
bool attentionWritesLse(const PlanStep &s) {
  return s.operands.size() - (s.rope ? 2 : 0) > 4;
}

/// The nodes of an attention or attention_grad step (FlashAttention.cu).
/// Executed FLOPs per query-key pair per head dimension: 4 for the
/// forward (S = QKᵀ, PV); 0 for the backward's prep pass and 10 for its
/// main pass (S, dP, dV, dK, dQ: 5 products, reading the forward's LSE).
/// Each operand is read or written once, in its element type (the step's
/// activation and output types; the gradients f32): the forward's LSE
/// (operand 5, f32 [B, H, T]) when it has one; the backward's delta
/// B·H·T floats (written by prep, read by main) beside the LSE; main adds
/// into dq (read and written once) after prep zeroes it, and into dk and
/// dv the same way where G = H / KVH > 1 (its G query heads' blocks share
/// a KV head's rows; with G = 1 it stores them, and prep zeroes nothing
/// there). With RoPE on load (s.rope) the forward and the main pass also
/// read the tables cos and sin once (f32 [B·T, hd / 2] each); q, k and v
/// are then read from the QKV projection's output, the same bytes.
/// Each launch's compute time is its block simulation's makespan.
std::vector<Node> attentionNodes(const PlanStep &s, const GpuRates &gpu,
                                 const CostAssumptions &a,
                                 double &causalFlops) {
  const int64_t nTiles = (s.seqLen + kAttentionTile - 1) / kAttentionTile;
  const double tiles = double(nTiles);
  const double executedPairs =
      double(kAttentionTile * kAttentionTile) * tiles * (tiles + 1) / 2;
  const double causalPairs = double(s.seqLen) * double(s.seqLen + 1) / 2;
  const double perPair = double(s.batch * s.heads * s.headDim);
  auto bytesOf = [](DType type) { return type == DType::BF16 ? 2.0 : 4.0; };
  const double in = bytesOf(s.activationType), out = bytesOf(s.outputType),
               grad = 4.0;
  // Elements of q (and o, dout, dq) and of k (and v, dk, dv), and floats of
  // one [B, H, T] row statistic (lse, delta).
  const double q = double(s.batch * s.seqLen * s.heads * s.headDim);
  const double kv = double(s.batch * s.seqLen * s.kvHeads * s.headDim);
  const double rowStat = 4.0 * double(s.batch * s.heads * s.seqLen);
  const bool sharedKv = s.kvHeads > 0 && s.heads > s.kvHeads;
  const double tables =
      s.rope ? 2 * 4.0 * double(s.batch * s.seqLen * (s.headDim / 2)) : 0.0;
  auto node = [&](const char *kind, double flopsPerPair, double bytes,
                  const std::vector<int64_t> &blocks) {
    Node n{kAttention, flopsPerPair * executedPairs * perPair, bytes,
           Rate::Attention};
    const int64_t slots = gpu.sms * (a.attentionBlocksPerSm > 0
                                         ? a.attentionBlocksPerSm
                                         : attentionOccupancy(kind, s.headDim));
    n.launchKind = kind;
    n.slots = slots;
    n.blocks = int64_t(blocks.size());
    for (int64_t pairs : blocks) {
      n.pairs += pairs;
      n.maxBlockPairs = std::max(n.maxBlockPairs, pairs);
    }
    if (n.pairs > 0 && slots > 0)
      n.imbalance = attentionBlockMakespan(blocks, slots) * double(slots) /
                    double(n.pairs);
    return n;
  };
  if (s.op == PlanStep::Op::Attention) {
    // A block per query tile and head: the tile's key tiles up to the
    // diagonal.
    causalFlops += 4 * causalPairs * perPair;
    const double lse = attentionWritesLse(s) ? rowStat : 0.0;
    return {
        node("forward", 4, in * (q + 2 * kv) + out * q + lse + tables,
             attentionBlocks(nTiles, s.heads * s.batch, kForwardHeaviestFirst,
                             [](int64_t t) { return t + 1; }))};
  }
  causalFlops += 8 * causalPairs * perPair;
  // prep: o, dout in, delta and dq's zeros out (dk's and dv's too where KV
  // heads are shared); main: q, k, v, dout, lse and delta in, dq read and
  // written, dk and dv written (read too where KV heads are shared).
  const double kvGrads = grad * 2 * kv;
  Node prep{kAttention, 0,
            2 * in * q + rowStat + grad * q + (sharedKv ? kvGrads : 0.0),
            Rate::None};
  // Main: a block per key tile x and query head, heaviest first: its query
  // tiles at or after x, n - x tile pairs (the kernel's ceil((T - 64 x) /
  // 32) steps of 32 queries, two per pair where T is a multiple of 64).
  return {prep, node("backward", 10,
                     in * (2 * q + 2 * kv) + 2 * rowStat + grad * 2 * q +
                         kvGrads + (sharedKv ? kvGrads : 0.0) + tables,
                     attentionBlocks(nTiles, s.heads * s.batch, true,
                                     [&](int64_t t) { return nTiles - t; }))};
}

/// The adamw step's three launches on each call of one optimizer step
/// (`calls` micro-batches, the last one applying), memory-bound: the
/// squared-norm partials read the gradients; the scalars pass reads lr,
/// step, apply and the loss flag and writes grad_norm and nonfinite; the
/// update reads the gradients again and, where it applies, reads and
/// writes the parameters and both moments, writes the parameters' bf16
/// copies (mixed precision: 2 bytes per element) and writes the gradient
/// sums. A micro-batch that does not apply moves only the gradients into
/// the sums. Every list covers the same N elements (gaps included: the
/// launches run over the whole region).
std::vector<Node> adamWNodes(const Plan &plan, const PlanStep &s,
                             int64_t calls) {
  const double region = 4.0 * double(adamWElementCount(plan, s));
  const double sums = s.adamGradSums.empty() ? 0.0 : region;
  const double bf16Copies = s.adamBf16Params.empty() ? 0.0 : region / 2;
  double scalars = 0;
  for (int64_t id : {s.adamLr, s.adamStep, s.adamApply, s.adamLossNonfinite,
                     s.adamGradNorm, s.adamNonfinite})
    scalars += id >= 0 ? 4.0 : 0.0;
  std::vector<Node> nodes;
  for (int64_t call = 0; call < calls; ++call) {
    const bool applies = call == calls - 1;
    nodes.push_back(Node{kOptimizer, 0, region, Rate::None});
    nodes.push_back(Node{kOptimizer, 0, scalars, Rate::None});
    nodes.push_back(Node{
        kOptimizer, 0,
        region + (applies ? 6 * region + bf16Copies : 0.0) + sums, Rate::None});
  }
  return nodes;
}

/// Where a parameter is used in the forward pass, as a sortable (layer,
/// place) pair: the embedding first; in decoder layer i its attention norm,
/// q/k/v, o, MLP norm, gate/up, down; then the final norm and the LM head
/// (and any other parameter). A matrix product's input gradient is needed
/// exactly when a trainable parameter comes before it.
std::pair<int64_t, int> forwardPlace(const std::string &name, int64_t layers) {
  static constexpr std::string_view kLayer = "model.layers.";
  if (name == "model.embed_tokens.weight")
    return {-1, 0};
  if (name == "model.norm.weight")
    return {layers, 0};
  if (name.rfind(kLayer, 0) != 0)
    return {layers, 1};
  size_t dot = name.find('.', kLayer.size());
  int64_t layer =
      std::atoll(name.substr(kLayer.size(), dot - kLayer.size()).c_str());
  std::string_view rest = std::string_view(name).substr(dot + 1);
  constexpr std::pair<std::string_view, int> kPlaces[] = {
      {"self_attn.q_proj", 1},
      {"self_attn.k_proj", 1},
      {"self_attn.v_proj", 1},
      {"self_attn.o_proj", 2},
      {"post_attention_layernorm", 3},
      {"mlp.gate_proj", 4},
      {"mlp.up_proj", 4},
      {"mlp.down_proj", 5}};
  for (auto [prefix, place] : kPlaces)
    if (rest.rfind(prefix, 0) == 0)
      return {layer, place};
  return {layer, 0}; // input_layernorm, or earliest in its layer
}

bool isTrainingGraph(const std::string &graph) {
  return graph == "train" || graph == "grad";
}

} // namespace

std::vector<std::string> costModelGpus() {
  std::vector<std::string> keys;
  for (const KnownGpu &gpu : kKnownGpus)
    keys.emplace_back(gpu.key);
  return keys;
}

StatusOr<GpuRates> gpuRatesFor(std::string_view key) {
  for (const KnownGpu &known : kKnownGpus) {
    if (known.key != key)
      continue;
    GpuRates rates;
    rates.key = std::string(key);
    rates.name = std::string(known.deviceName);
    std::optional<PeakRate> bf16 = gpuPeak(known.deviceName, true);
    std::optional<PeakRate> fp32 = gpuPeak(known.deviceName, false);
    std::optional<MemoryRate> memory = gpuMemoryBandwidth(known.deviceName);
    if (!bf16 || !fp32 || !memory)
      return Status::error("GPU '" + rates.key + "' (" + rates.name +
                           ") is not in the datasheet table of Throughput.cpp");
    rates.bf16 = *bf16;
    rates.fp32 = *fp32;
    rates.memory = *memory;
    rates.sms = known.sms;
    return rates;
  }
  std::string known;
  for (const std::string &k : costModelGpus())
    known += (known.empty() ? "" : ", ") + k;
  return Status::error("unknown GPU '" + std::string(key) +
                       "' (known: " + known + ")");
}

int64_t attentionOccupancy(std::string_view kind, int64_t headDim) {
  const bool forward = kind == "forward";
  if (!forward && kind != "backward")
    return 1;
  // Registers per thread: the most of the pass's entry points at the head
  // size, RoPE ones included (`ptxas -arch=sm_90 -v` on the library's
  // PTX, CUDA 13.0; rerun when the kernels change). An unknown head size
  // gets the most a thread may have.
  struct Registers {
    int64_t headDim, forward, backward;
  };
  constexpr Registers kRegisters[] = {
      {16, 105, 128}, {32, 128, 168}, {64, 128, 255}, {128, 248, 255}};
  int64_t registers = 255;
  for (const Registers &r : kRegisters)
    if (r.headDim == headDim)
      registers = forward ? r.forward : r.backward;
  // An SM of compute capability 9.0: 65,536 registers, allocated per warp
  // in units of 256; 228 KiB of shared memory, 1 KiB of it reserved per
  // block; 2,048 threads; 32 blocks.
  constexpr int64_t kRegistersPerSm = 65536, kSharedPerSm = 228 * 1024,
                    kReservedPerBlock = 1024, kThreadsPerSm = 2048,
                    kBlocksPerSm = 32;
  const int64_t warpRegisters = (registers * 32 + 255) / 256 * 256;
  const int64_t shared = flash::sharedBytes(
      forward ? flash::Pass::Forward : flash::Pass::BackwardMain, int(headDim));
  const int64_t byRegisters =
      kRegistersPerSm / (warpRegisters * (flash::kThreads / 32));
  const int64_t byShared = kSharedPerSm / (shared + kReservedPerBlock);
  return std::max<int64_t>(
      1, std::min({kBlocksPerSm, kThreadsPerSm / flash::kThreads, byRegisters,
                   byShared}));
}

double attentionBlockMakespan(const std::vector<int64_t> &blockPairs,
                              int64_t slots) {
  // The slots' free times, earliest first; each block in launch order
  // starts on the earliest.
  std::priority_queue<int64_t, std::vector<int64_t>, std::greater<int64_t>>
      free;
  for (int64_t i = 0; i < std::max<int64_t>(slots, 1); ++i)
    free.push(0);
  int64_t makespan = 0;
  for (int64_t pairs : blockPairs) {
    int64_t end = free.top() + pairs;
    free.pop();
    free.push(end);
    makespan = std::max(makespan, end);
  }
  return double(makespan);
}

StepCost estimateStepCost(const Plan &plan, const GpuRates &gpu,
                          const CostAssumptions &assumptions,
                          const MemoryProfile *memory) {
  StepCost cost;
  cost.planPath = plan.path;
  cost.graph = plan.graph;
  cost.target = plan.target;
  cost.gpu = gpu;
  cost.assumptions = assumptions;
  const bool train = plan.graph == "train";
  cost.calls = train ? plan.microBatches : 1;
  cost.tokens = plan.batch * plan.seq * cost.calls;

  // One call's nodes, in the executor's order; the optimizer's, whose
  // bytes differ between the calls of one step, for the whole step.
  std::vector<Node> nodes, stepNodes;
  std::map<std::string, KernelCost> kernels;
  // The memory profile's kernels by name (the report sums launches).
  std::map<std::string, MeasuredKernel> measured;
  if (memory) {
    cost.memoryProfile = memory->source;
    for (const MeasuredKernel &k : memory->kernels) {
      MeasuredKernel &sum = measured[k.name];
      sum.name = k.name;
      sum.bytes += k.bytes;
      sum.vectorBytes += k.vectorBytes;
      sum.sectors += k.sectors;
      sum.idealSectors += k.idealSectors;
    }
  }
  double causalFlops = 0;
  for (const PlanStep &s : plan.steps) {
    switch (s.op) {
    case PlanStep::Op::Kernel: {
      const PlanKernel &kernel = plan.kernels[s.kernel];
      Node node{kKernel, 0, kernelBytes(kernel), Rate::None};
      KernelCost &k = kernels[kernel.name];
      k.name = kernel.name;
      // The report names entry points (the same as the kernels' names on
      // the GPU).
      const std::string &entry =
          kernel.symbol.empty() ? kernel.name : kernel.symbol;
      if (auto it = measured.find(entry); it != measured.end()) {
        // Derated by what the emulator measured at a small shape: the
        // sectors its requests touched over the fewest possible, and the
        // scalar bandwidth factor below half vector share.
        const MeasuredKernel &m = it->second;
        k.measured = true;
        k.sectorRatio =
            m.idealSectors > 0
                ? std::max(1.0, double(m.sectors) / double(m.idealSectors))
                : 1.0;
        k.vectorShare =
            m.bytes > 0 ? double(m.vectorBytes) / double(m.bytes) : 0.0;
        node.sectorRatio = k.sectorRatio;
        node.bandwidthFactor = m.bytes > 0 && k.vectorShare < 0.5
                                   ? assumptions.scalarBandwidthFactor
                                   : 1.0;
        k.memoryFactor = node.sectorRatio / node.bandwidthFactor;
      }
      nodes.push_back(node);
      ++k.calls;
      k.bytes += node.bytes;
      k.predictedSeconds += nodeSeconds(node, gpu, assumptions, false);
      Node plain = node;
      plain.sectorRatio = plain.bandwidthFactor = 1;
      k.defaultSeconds += nodeSeconds(plain, gpu, assumptions, false);
      cost.pureCastLaunches += isPureCast(kernel);
      cost.generatedAttentionLaunches += kernel.kind == "attention";
      break;
    }
    case PlanStep::Op::Gemm: {
      double bytes =
          double(s.m * s.k * int64_t(dtypeSize(s.aType)) +
                 s.k * s.n * int64_t(dtypeSize(s.bType)) +
                 s.m * s.n * int64_t(dtypeSize(s.cType)) * (s.beta ? 2 : 1));
      bool bf16 = s.aType == DType::BF16 || s.bType == DType::BF16;
      nodes.push_back(Node{kGemm, 2.0 * double(s.m) * double(s.n) * double(s.k),
                           bytes, bf16 ? Rate::Bf16Gemm : Rate::Fp32Gemm});
      ++cost.gemmSteps;
      break;
    }
    case PlanStep::Op::Attention:
    case PlanStep::Op::AttentionGrad:
      for (const Node &node : attentionNodes(s, gpu, assumptions, causalFlops))
        nodes.push_back(node);
      if (s.op == PlanStep::Op::Attention) {
        ++cost.attentionSteps;
        cost.attentionLseWrites += attentionWritesLse(s);
      } else {
        ++cost.attentionGradSteps;
      }
      break;
    case PlanStep::Op::AllReduce:
      ++cost.allReduceSteps;
      break;
    case PlanStep::Op::AdamW:
      for (const Node &node : adamWNodes(plan, s, cost.calls))
        stepNodes.push_back(node);
      ++cost.adamWSteps;
      break;
    }
  }
  // A training step commits (TrainLoop: every micro-batch); other graphs'
  // calls do not.
  if (train)
    for (const NextValue &next : planNextValues(plan)) {
      nodes.push_back(
          Node{kCopy, 0, 2.0 * double(next.output->byteSize), Rate::None});
      ++cost.copies;
    }

  cost.kinds.resize(kKinds);
  for (size_t i = 0; i < kKinds; ++i)
    cost.kinds[i].kind = kKindNames[i];
  auto add = [&](const Node &node, int64_t times) {
    KindCost &kind = cost.kinds[node.kind];
    const double t = double(times);
    kind.nodes += times;
    kind.flops += t * node.flops;
    kind.bytes += t * node.bytes;
    kind.limitSeconds += t * nodeSeconds(node, gpu, assumptions, true);
    kind.predictedSeconds += t * nodeSeconds(node, gpu, assumptions, false);
    kind.nodeSeconds += t * assumptions.nodeMicroseconds * 1e-6;
  };
  for (const Node &node : nodes)
    add(node, cost.calls);
  // The attention launches' block simulation, per kind: its imbalance
  // weighted by the launches' FLOPs.
  for (const Node &node : nodes) {
    if (!node.launchKind)
      continue;
    auto it = std::find_if(
        cost.attentionBalance.begin(), cost.attentionBalance.end(),
        [&](const AttentionBalance &b) { return b.kind == node.launchKind; });
    if (it == cost.attentionBalance.end()) {
      AttentionBalance b;
      b.kind = node.launchKind;
      b.slots = node.slots;
      b.blocks = node.blocks;
      b.pairs = node.pairs;
      b.maxBlockPairs = node.maxBlockPairs;
      it = cost.attentionBalance.insert(it, b);
    }
    it->launches += cost.calls;
    it->flops += double(cost.calls) * node.flops;
    it->imbalance += double(cost.calls) * node.flops * node.imbalance;
    it->predictedSeconds +=
        double(cost.calls) * nodeSeconds(node, gpu, assumptions, false);
  }
  for (AttentionBalance &b : cost.attentionBalance)
    b.imbalance = b.flops > 0 ? b.imbalance / b.flops : 1.0;
  for (const Node &node : stepNodes)
    add(node, 1);
  const double calls = double(cost.calls);
  for (KindCost &kind : cost.kinds) {
    cost.nodes += kind.nodes;
    cost.limit.seconds += kind.limitSeconds;
    cost.predicted.seconds += kind.predictedSeconds;
  }
  cost.gemmSteps *= cost.calls;
  cost.attentionSteps *= cost.calls;
  cost.attentionGradSteps *= cost.calls;
  cost.attentionLseWrites *= cost.calls;
  cost.adamWSteps *= cost.calls;
  cost.allReduceSteps *= cost.calls;
  cost.copies *= cost.calls;
  cost.pureCastLaunches *= cost.calls;
  cost.generatedAttentionLaunches *= cost.calls;
  cost.gemmFlops = cost.kinds[kGemm].flops;
  cost.attentionFlopsExecuted = cost.kinds[kAttention].flops;
  cost.attentionFlopsCausal = causalFlops * calls;
  for (auto &[name, kernel] : kernels) {
    kernel.calls *= cost.calls;
    kernel.bytes *= calls;
    kernel.predictedSeconds *= calls;
    kernel.defaultSeconds *= calls;
    cost.kernels.push_back(kernel);
    if (memory) {
      cost.measuredKernels += kernel.measured;
      cost.deratedKernels += kernel.measured && kernel.memoryFactor > 1;
      cost.unmeasuredKernels += !kernel.measured;
    }
  }
  std::set<std::string> entries;
  for (const PlanKernel &kernel : plan.kernels)
    entries.insert(kernel.symbol.empty() ? kernel.name : kernel.symbol);
  for (const auto &[name, m] : measured)
    cost.profileOnlyKernels += !entries.count(name);
  std::sort(cost.kernels.begin(), cost.kernels.end(),
            [](const KernelCost &a, const KernelCost &b) {
              return a.bytes != b.bytes ? a.bytes > b.bytes : a.name < b.name;
            });

  // The model's GEMMs: every weight matrix once per token forward, three
  // times with the backward (dX and dW); the embedding lookup is no GEMM
  // unless the table is also the (tied) head.
  const bool separateHead = plan.findParam("lm_head.weight") != nullptr;
  const int64_t layers = countLayers(plan);
  std::vector<const PlanParam *> matrices;
  // The first trainable parameter in the forward pass (a tied table is
  // first used as the embedding).
  std::pair<int64_t, int> firstTrainable{layers + 1, 0};
  for (const PlanParam &param : plan.params) {
    if (param.name.rfind("optimizer.", 0) == 0)
      continue;
    if (!param.frozen) {
      firstTrainable =
          std::min(firstTrainable, forwardPlace(param.name, layers));
    } else {
      cost.frozenParams += param.numElements;
    }
    if (param.shape.size() != 2 ||
        (separateHead && param.name == "model.embed_tokens.weight"))
      continue;
    matrices.push_back(&param);
    cost.matmulParams += param.numElements;
  }
  const bool training = isTrainingGraph(plan.graph);
  cost.modelGemmFactor = training ? 6 : 2;
  cost.modelGemmFlops = double(cost.modelGemmFactor) *
                        double(cost.matmulParams) * double(cost.tokens);
  // With frozen parameters: a frozen weight needs no weight gradient, and
  // no input gradient is needed before the first trainable parameter.
  for (const PlanParam *param : matrices) {
    std::pair<int64_t, int> place = param->name == "model.embed_tokens.weight"
                                        ? std::pair<int64_t, int>{layers, 1}
                                        : forwardPlace(param->name, layers);
    int passes = 1;
    if (training)
      passes += (firstTrainable < place) + !param->frozen;
    cost.neededGemmFlops +=
        2.0 * passes * double(param->numElements) * double(cost.tokens);
  }

  // Host copies: each input in, the outputs the executor fetches back (a
  // training step leaves its next values on the device).
  for (const PlanTensor &input : plan.inputs) {
    ++cost.hostCopiesIn;
    cost.hostBytesIn += double(input.byteSize);
  }
  for (const PlanTensor &output : plan.outputs) {
    if (train && plan.findParam(output.name))
      continue;
    ++cost.hostCopiesOut;
    cost.hostBytesOut += double(output.byteSize);
  }
  cost.hostCopiesIn *= cost.calls;
  cost.hostCopiesOut *= cost.calls;
  cost.hostBytesIn *= calls;
  cost.hostBytesOut *= calls;

  // MFU as the training metrics define it.
  cost.mfuFlopsPerToken =
      flopModelOf(plan).trainFlopsPerToken(countLayers(plan)) /
      (isTrainingGraph(plan.graph) ? 1 : 3);
  cost.mfuPeak = gpuPeak(gpu.name, gemmsInBf16(plan));
  for (StepPrediction *p : {&cost.limit, &cost.predicted})
    p->throughput = stepThroughput(cost.tokens, p->seconds,
                                   cost.mfuFlopsPerToken, cost.mfuPeak);
  return cost;
}

std::string formatStepCost(const StepCost &c, int topKernels) {
  const CostAssumptions &a = c.assumptions;
  std::string out;
  auto line = [&](const std::string &text) { out += text + "\n"; };
  line(printfString(
      "growc-run cost: %s: %s graph (%s), %s tokens per step%s",
      c.planPath.c_str(), c.graph.c_str(), c.target.c_str(),
      withCommas(c.tokens).c_str(),
      c.calls > 1
          ? printfString(" (%lld micro-batches)", (long long)c.calls).c_str()
          : ""));
  line(printfString(
      "Predicted for the %s (--gpu %s) from the constants below%s; "
      "counted numbers are exact from the plan; %s.",
      c.gpu.bf16.source.substr(0, c.gpu.bf16.source.find(" bf16")).c_str(),
      c.gpu.key.c_str(),
      c.target == "nvptx"
          ? ""
          : printfString(" (a %s artifact: its kernels, counted as if "
                         "they ran on the GPU)",
                         c.target.c_str())
                .c_str(),
      c.memoryProfile.empty()
          ? "nothing is measured"
          : ("the generated kernels' memory behaviour was measured on the "
             "emulated GPU (" +
             c.memoryProfile + "), nothing else")
                .c_str()));
  line(printfString("  bf16 dense tensor peak %8.1f TFLOP/s  %s",
                    c.gpu.bf16.tflops, c.gpu.bf16.source.c_str()));
  line(
      printfString("  fp32 peak              %8.1f TFLOP/s  %s (fp32 GEMMs: no "
                   "TF32)",
                   c.gpu.fp32.tflops, c.gpu.fp32.source.c_str()));
  line(printfString("  HBM bandwidth          %8.2f TB/s     %s",
                    c.gpu.memory.terabytesPerSecond,
                    c.gpu.memory.source.c_str()));
  line(printfString(
      "  per graph node         %8.2f us       assumed: launch and "
      "dependency latency of a CUDA-graph node",
      a.nodeMicroseconds));
  line(printfString(
      "  efficiency (predicted) GEMM %.2f, attention %.2f of peak; "
      "memory %.2f of bandwidth (limit: all 1)",
      a.gemmEfficiency, a.attentionEfficiency, a.memoryEfficiency));
  // Each simulated pass's resident blocks: its slots over the SMs.
  std::string resident;
  for (const AttentionBalance &b : c.attentionBalance)
    resident += (resident.empty() ? "(" : ", ") + b.kind + " " +
                std::to_string(b.slots / std::max<int64_t>(c.gpu.sms, 1));
  resident += resident.empty() ? "(none)" : ")";
  line(printfString(
      "  attention blocks       %lld SMs x %s resident blocks per SM  %s; "
      "each block at 1/(SMs x resident) of peak x attention efficiency, "
      "dispatched in order",
      (long long)c.gpu.sms,
      a.attentionBlocksPerSm > 0
          ? std::to_string(a.attentionBlocksPerSm).c_str()
          : resident.c_str(),
      a.attentionBlocksPerSm > 0
          ? "given"
          : "from the library's registers and shared memory"));
  if (!c.memoryProfile.empty())
    line(printfString(
        "  measured kernels       memory time x sectors/ideal, / %.2f "
        "below 50%% vector share (assumed scalar bandwidth factor)",
        a.scalarBandwidthFactor));

  const KindCost &kernel = c.kinds[kKernel], &gemm = c.kinds[kGemm],
                 &attention = c.kinds[kAttention],
                 &optimizer = c.kinds[kOptimizer], &copy = c.kinds[kCopy];
  line("");
  line(printfString("Graph nodes per step (counted): %s",
                    withCommas(c.nodes).c_str()));
  std::string kernelNote = printfString("%s pure f32->bf16 casts",
                                        withCommas(c.pureCastLaunches).c_str());
  if (c.generatedAttentionLaunches)
    kernelNote +=
        printfString(", %s generated attention kernels: bytes only, their "
                     "FLOPs are not counted",
                     withCommas(c.generatedAttentionLaunches).c_str());
  line(printfString("  generated kernels  %8s  (%s)",
                    withCommas(kernel.nodes).c_str(), kernelNote.c_str()));
  line(
      printfString("  cuBLASLt GEMMs     %8s", withCommas(gemm.nodes).c_str()));
  std::string backward;
  if (c.attentionGradSteps)
    backward += printfString(", %s backward x 2 (prep, main)",
                             withCommas(c.attentionGradSteps).c_str());
  line(printfString("  attention launches %8s  (%s forward steps x 1%s: the "
                    "kernel library)",
                    withCommas(attention.nodes).c_str(),
                    withCommas(c.attentionSteps).c_str(), backward.c_str()));
  line(printfString(
      "  optimizer launches %8s  (%s adamw steps x 3: the kernel library's "
      "flat AdamW, in place)",
      withCommas(optimizer.nodes).c_str(), withCommas(c.adamWSteps).c_str()));
  line(printfString(
      "  device copies      %8s  (next values outside their parameters' "
      "buffers: CudaExecutor, outside the plan)",
      withCommas(copy.nodes).c_str()));
  line(printfString(
      "  all_reduce steps   %8s  (not nodes: they communicate only in "
      "data-parallel runs)",
      withCommas(c.allReduceSteps).c_str()));

  line("");
  line("FLOPs per step (counted)");
  line(printfString("  GEMMs executed      %12s  (2·m·n·k over %s GEMM steps)",
                    si(c.gemmFlops, "FLOP").c_str(),
                    withCommas(c.gemmSteps).c_str()));
  line(printfString("  GEMMs of the model  %12s  (%d · %s weights of matrix "
                    "products · %s tokens; LM head included)",
                    si(c.modelGemmFlops, "FLOP").c_str(), c.modelGemmFactor,
                    withCommas(c.matmulParams).c_str(),
                    withCommas(c.tokens).c_str()));
  if (c.modelGemmFlops > 0)
    line(printfString("  executed / model    %12.3f",
                      c.gemmFlops / c.modelGemmFlops));
  if (c.frozenParams > 0) {
    line(printfString("  GEMMs needed        %12s  (%s frozen parameters: no "
                      "weight gradient for them, no input gradient before "
                      "the first trainable parameter)",
                      si(c.neededGemmFlops, "FLOP").c_str(),
                      withCommas(c.frozenParams).c_str()));
    if (c.neededGemmFlops > 0)
      line(printfString("  executed / needed   %12.3f",
                        c.gemmFlops / c.neededGemmFlops));
  }
  std::string perPair;
  if (c.attentionGradSteps)
    perPair += ", backward 10 (5 products, the saved LSE)";
  line(printfString("  attention executed  %12s  (64x64 tiles up to the "
                    "diagonal; per pair and head dim: forward 4%s)",
                    si(c.attentionFlopsExecuted, "FLOP").c_str(),
                    perPair.c_str()));
  line(printfString("  attention causal    %12s  (T(T+1)/2 pairs; forward "
                    "4, backward 8)",
                    si(c.attentionFlopsCausal, "FLOP").c_str()));
  line(printfString("  MFU's model FLOPs   %12s  (6N + 12·L·T·d_attn per "
                    "token%s, Throughput.h)",
                    si(c.mfuFlopsPerToken * double(c.tokens), "FLOP").c_str(),
                    isTrainingGraph(c.graph) ? ""
                                             : ", a third for a forward pass"));

  line("");
  line("Per kind (nodes, FLOPs and bytes counted; bytes a lower bound; "
       "times predicted, node cost included)");
  line(printfString("  %-10s %8s %12s %12s %10s %12s", "kind", "nodes", "FLOPs",
                    "bytes", "limit ms", "predicted ms"));
  double overhead = 0, bytes = 0, flops = 0;
  for (const KindCost &k : c.kinds) {
    line(printfString("  %-10s %8lld %12s %12s %10.3f %12.3f", k.kind.c_str(),
                      (long long)k.nodes, si(k.flops, "").c_str(),
                      si(k.bytes, "B").c_str(), k.limitSeconds * 1e3,
                      k.predictedSeconds * 1e3));
    overhead += k.nodeSeconds;
    bytes += k.bytes;
    flops += k.flops;
  }
  line(printfString("  %-10s %8lld %12s %12s %10.3f %12.3f", "total",
                    (long long)c.nodes, si(flops, "").c_str(),
                    si(bytes, "B").c_str(), c.limit.seconds * 1e3,
                    c.predicted.seconds * 1e3));
  line(printfString("  of which node cost %.3f ms", overhead * 1e3));

  if (!c.attentionBalance.empty()) {
    line("");
    line("Attention blocks (simulated: each launch's blocks in dispatch "
         "order over its slots; imbalance = makespan / perfectly balanced "
         "time)");
    line(printfString("  %-10s %8s %6s %8s %10s %10s %9s %12s", "pass",
                      "launches", "slots", "blocks", "tile pairs", "max/block",
                      "imbalance", "predicted ms"));
    for (const AttentionBalance &b : c.attentionBalance)
      line(printfString("  %-10s %8lld %6lld %8lld %10lld %10lld %9.3f %12.3f",
                        b.kind.c_str(), (long long)b.launches,
                        (long long)b.slots, (long long)b.blocks,
                        (long long)b.pairs, (long long)b.maxBlockPairs,
                        b.imbalance, b.predictedSeconds * 1e3));
  }
  if (c.attentionLseWrites)
    line(printfString("  %s forward launches write the LSE (4·B·H·T bytes "
                      "each)",
                      withCommas(c.attentionLseWrites).c_str()));

  line("");
  line(printfString("Step (predicted)  %12s %12s", "limit", "predicted"));
  line(printfString("  time ms         %12.3f %12.3f", c.limit.seconds * 1e3,
                    c.predicted.seconds * 1e3));
  line(printfString("  tokens/s        %12.0f %12.0f",
                    c.limit.throughput.tokensPerSecond,
                    c.predicted.throughput.tokensPerSecond));
  if (c.mfuPeak && c.limit.throughput.mfu && c.predicted.throughput.mfu)
    line(printfString(
        "  MFU             %11.3g%% %11.3g%%  (of %.1f TFLOP/s, %s)",
        100 * *c.limit.throughput.mfu, 100 * *c.predicted.throughput.mfu,
        c.mfuPeak->tflops, c.mfuPeak->source.c_str()));

  if (!c.memoryProfile.empty()) {
    line("");
    line(printfString(
        "Memory profile %s (the emulated GPU's counts at a small shape): "
        "%lld of %lld generated kernels measured, %lld of them derated; "
        "%lld not in the profile keep the default (full bandwidth x "
        "memory efficiency); %lld profile kernels are not this plan's "
        "generated kernels",
        c.memoryProfile.c_str(), (long long)c.measuredKernels,
        (long long)c.kernels.size(), (long long)c.deratedKernels,
        (long long)c.unmeasuredKernels, (long long)c.profileOnlyKernels));
    std::vector<const KernelCost *> derated;
    for (const KernelCost &k : c.kernels)
      if (k.measured && k.memoryFactor > 1)
        derated.push_back(&k);
    std::sort(derated.begin(), derated.end(),
              [](const KernelCost *a, const KernelCost *b) {
                double addedA = a->predictedSeconds - a->defaultSeconds,
                       addedB = b->predictedSeconds - b->defaultSeconds;
                return addedA != addedB ? addedA > addedB : a->name < b->name;
              });
    if (!derated.empty())
      line(printfString("  %-44s %7s %8s %7s %7s %11s %12s", "derated kernel",
                        "calls", "sect/id", "vector", "factor", "default ms",
                        "predicted ms"));
    for (const KernelCost *k : derated)
      line(printfString("  %-44s %7lld %8.3f %6.1f%% %7.3f %11.3f %12.3f",
                        k->name.c_str(), (long long)k->calls, k->sectorRatio,
                        100 * k->vectorShare, k->memoryFactor,
                        k->defaultSeconds * 1e3, k->predictedSeconds * 1e3));
  }

  if (!c.kernels.empty() && topKernels > 0) {
    line("");
    line(printfString(
        "Top %d generated kernels by bytes (counted) and their time "
        "(predicted)",
        int(std::min<size_t>(size_t(topKernels), c.kernels.size()))));
    line(printfString("  %-44s %7s %12s %12s", "kernel", "calls", "bytes",
                      "predicted ms"));
    for (size_t i = 0; i < c.kernels.size() && int(i) < topKernels; ++i) {
      const KernelCost &k = c.kernels[i];
      line(printfString("  %-44s %7lld %12s %12.3f", k.name.c_str(),
                        (long long)k.calls, si(k.bytes, "B").c_str(),
                        k.predictedSeconds * 1e3));
    }
  }
  line("");
  line(printfString(
      "Host copies around the graph per step (counted; not graph "
      "nodes, not in the prediction): %lld in (%s), %lld out (%s)",
      (long long)c.hostCopiesIn, si(c.hostBytesIn, "B").c_str(),
      (long long)c.hostCopiesOut, si(c.hostBytesOut, "B").c_str()));
  return out;
}

std::string stepCostJson(const StepCost &c, int topKernels) {
  const CostAssumptions &a = c.assumptions;
  // Counted FLOPs and bytes are whole numbers (below 2^53, exact in a
  // double): written as integers.
  auto count = [](double value) {
    return JsonValue::number(int64_t(std::llround(value)));
  };
  auto rate = [](double value, const std::string &source) {
    return JsonValue::object()
        .set("value", JsonValue::number(value))
        .set("source", JsonValue::string(source));
  };
  JsonValue constants = JsonValue::object();
  constants.set("bf16_tflops", rate(c.gpu.bf16.tflops, c.gpu.bf16.source))
      .set("fp32_tflops", rate(c.gpu.fp32.tflops, c.gpu.fp32.source))
      .set("memory_tbps",
           rate(c.gpu.memory.terabytesPerSecond, c.gpu.memory.source))
      .set("node_us", rate(a.nodeMicroseconds, "assumed"))
      .set("gemm_efficiency", JsonValue::number(a.gemmEfficiency))
      .set("attention_efficiency", JsonValue::number(a.attentionEfficiency))
      .set("memory_efficiency", JsonValue::number(a.memoryEfficiency))
      .set("sms", JsonValue::number(c.gpu.sms))
      .set("attention_blocks_per_sm", JsonValue::number(a.attentionBlocksPerSm))
      .set("scalar_bandwidth_factor",
           JsonValue::number(a.scalarBandwidthFactor));

  JsonValue kinds = JsonValue::array();
  for (const KindCost &k : c.kinds)
    kinds.push(JsonValue::object()
                   .set("kind", JsonValue::string(k.kind))
                   .set("nodes", JsonValue::number(k.nodes))
                   .set("flops", count(k.flops))
                   .set("bytes", count(k.bytes)));
  JsonValue kernels = JsonValue::array();
  for (size_t i = 0; i < c.kernels.size() && int(i) < topKernels; ++i)
    kernels.push(JsonValue::object()
                     .set("name", JsonValue::string(c.kernels[i].name))
                     .set("calls", JsonValue::number(c.kernels[i].calls))
                     .set("bytes", count(c.kernels[i].bytes)));
  JsonValue counted = JsonValue::object();
  counted.set("nodes", JsonValue::number(c.nodes))
      .set("kinds", std::move(kinds))
      .set("pure_cast_launches", JsonValue::number(c.pureCastLaunches))
      .set("generated_attention_launches",
           JsonValue::number(c.generatedAttentionLaunches))
      .set("gemm_steps", JsonValue::number(c.gemmSteps))
      .set("attention_steps", JsonValue::number(c.attentionSteps))
      .set("attention_grad_steps", JsonValue::number(c.attentionGradSteps))
      .set("attention_lse_writes", JsonValue::number(c.attentionLseWrites))
      .set("all_reduce_steps", JsonValue::number(c.allReduceSteps))
      .set("adamw_steps", JsonValue::number(c.adamWSteps))
      .set("copies", JsonValue::number(c.copies))
      .set("gemm_flops", count(c.gemmFlops))
      .set("matmul_params", JsonValue::number(c.matmulParams))
      .set("model_gemm_factor", JsonValue::number(c.modelGemmFactor))
      .set("model_gemm_flops", count(c.modelGemmFlops))
      .set("frozen_params", JsonValue::number(c.frozenParams))
      .set("needed_gemm_flops", count(c.neededGemmFlops))
      .set("gemm_flops_ratio",
           JsonValue::number(
               c.modelGemmFlops > 0 ? c.gemmFlops / c.modelGemmFlops : 0.0))
      .set("attention_flops_executed", count(c.attentionFlopsExecuted))
      .set("attention_flops_causal", count(c.attentionFlopsCausal))
      .set("mfu_flops_per_token", JsonValue::number(c.mfuFlopsPerToken))
      .set("host_copies_in", JsonValue::number(c.hostCopiesIn))
      .set("host_bytes_in", count(c.hostBytesIn))
      .set("host_copies_out", JsonValue::number(c.hostCopiesOut))
      .set("host_bytes_out", count(c.hostBytesOut))
      .set("top_kernels", std::move(kernels));

  auto prediction = [&](const StepPrediction &p, bool atLimit) {
    JsonValue kindTimes = JsonValue::object();
    for (const KindCost &k : c.kinds)
      kindTimes.set(k.kind,
                    JsonValue::number(
                        (atLimit ? k.limitSeconds : k.predictedSeconds) * 1e3));
    JsonValue out = JsonValue::object();
    out.set("step_ms", JsonValue::number(p.seconds * 1e3))
        .set("kind_ms", std::move(kindTimes))
        .set("tokens_per_s", JsonValue::number(p.throughput.tokensPerSecond))
        .set("mfu", p.throughput.mfu ? JsonValue::number(*p.throughput.mfu)
                                     : JsonValue::null());
    return out;
  };
  double overhead = 0;
  for (const KindCost &k : c.kinds)
    overhead += k.nodeSeconds;
  JsonValue balance = JsonValue::array();
  for (const AttentionBalance &b : c.attentionBalance)
    balance.push(JsonValue::object()
                     .set("pass", JsonValue::string(b.kind))
                     .set("launches", JsonValue::number(b.launches))
                     .set("slots", JsonValue::number(b.slots))
                     .set("blocks", JsonValue::number(b.blocks))
                     .set("tile_pairs", JsonValue::number(b.pairs))
                     .set("max_block_pairs", JsonValue::number(b.maxBlockPairs))
                     .set("imbalance", JsonValue::number(b.imbalance))
                     .set("ms", JsonValue::number(b.predictedSeconds * 1e3)));
  JsonValue predicted = JsonValue::object();
  predicted.set("attention_balance", std::move(balance));
  if (!c.memoryProfile.empty()) {
    JsonValue derated = JsonValue::array();
    for (const KernelCost &k : c.kernels)
      if (k.measured && k.memoryFactor > 1)
        derated.push(
            JsonValue::object()
                .set("name", JsonValue::string(k.name))
                .set("sector_ratio", JsonValue::number(k.sectorRatio))
                .set("vector_share", JsonValue::number(k.vectorShare))
                .set("factor", JsonValue::number(k.memoryFactor))
                .set("default_ms", JsonValue::number(k.defaultSeconds * 1e3))
                .set("ms", JsonValue::number(k.predictedSeconds * 1e3)));
    predicted.set(
        "memory_profile",
        JsonValue::object()
            .set("source", JsonValue::string(c.memoryProfile))
            .set("measured_kernels", JsonValue::number(c.measuredKernels))
            .set("derated_kernels", JsonValue::number(c.deratedKernels))
            .set("unmeasured_kernels", JsonValue::number(c.unmeasuredKernels))
            .set("profile_only_kernels",
                 JsonValue::number(c.profileOnlyKernels))
            .set("derated", std::move(derated)));
  }
  predicted.set("limit", prediction(c.limit, true))
      .set("predicted", prediction(c.predicted, false))
      .set("node_ms", JsonValue::number(overhead * 1e3))
      .set("mfu_peak_tflops", c.mfuPeak ? JsonValue::number(c.mfuPeak->tflops)
                                        : JsonValue::null());

  JsonValue root = JsonValue::object();
  root.set("plan", JsonValue::string(c.planPath))
      .set("graph", JsonValue::string(c.graph))
      .set("target", JsonValue::string(c.target))
      .set("gpu", JsonValue::string(c.gpu.key))
      .set("calls", JsonValue::number(c.calls))
      .set("tokens", JsonValue::number(c.tokens))
      .set("constants", std::move(constants))
      .set("counted", std::move(counted))
      .set("predicted", std::move(predicted));
  return toJson(root, 2) + "\n";
}

} // namespace growc::rt

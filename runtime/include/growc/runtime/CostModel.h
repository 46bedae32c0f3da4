//===- CostModel.h - One step's GPU cost, from the plan alone ---*- C++ -*-===//
//
// `growc-run cost`: what one step of a plan's graph asks of a GPU, without
// a GPU. Two kinds of number, never mixed up:
//
//  * counted, exact from the plan: the CUDA graph's nodes (each kernel,
//    GEMM, attention and optimizer launch of the steps plus the
//    device-to-device copies the CUDA executor adds outside them for next
//    values outside their parameters' buffers, planNextValues), the FLOPs
//    of every GEMM (2·m·n·k) and attention pass, and the bytes each launch
//    must move at least (every operand read or written once, from shapes
//    and dtypes);
//  * predicted, from datasheet constants and stated assumptions: each
//    launch's roofline time max(FLOPs / rate, bytes / bandwidth) plus a
//    fixed cost per graph node, summed in plan order (the executor runs
//    one stream), and the tokens/s and MFU that follow. Two predictions:
//    at the datasheet limits (a lower bound on the step time given the
//    node cost) and with the efficiency factors (what kernels of this kind
//    reach in practice).
//
// Nothing is measured unless asked: with a memory report of the emulated
// GPU (MemoryProfile: the fake driver's counts, taken at a small shape of
// the same model) each generated kernel's bandwidth is derated by what its
// accesses were measured to do. The attention launches' compute time is a
// block-level simulation of their grids over the GPU's SMs
// (attentionBlockMakespan). docs/gpu.md ("Cost model") lists the
// assumptions.
//
//===----------------------------------------------------------------------===//

#ifndef GROWC_RUNTIME_COSTMODEL_H
#define GROWC_RUNTIME_COSTMODEL_H

#include "growc/runtime/Plan.h"
#include "growc/runtime/Status.h"
#include "growc/runtime/Throughput.h"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace growc::rt {

/// The GPU a prediction is for: datasheet rates from Throughput.h's table.
struct GpuRates {
  std::string key;  ///< what --gpu named: "h100", "h200"
  std::string name; ///< the device name the table is asked about
  PeakRate bf16, fp32;
  MemoryRate memory;
  /// Streaming multiprocessors (the datasheet's: 132 on both SXM parts).
  int64_t sms = 0;
};

/// The GPUs `growc-run cost --gpu` knows, by key.
std::vector<std::string> costModelGpus();

/// The rates of GPU `key` (one of costModelGpus()).
StatusOr<GpuRates> gpuRatesFor(std::string_view key);

/// The assumptions of the "predicted" column (the "limit" column sets
/// every efficiency to 1 and keeps the node cost).
struct CostAssumptions {
  /// Per CUDA-graph node (kernel, GEMM, attention pass, copy): launch and
  /// dependency latency between dependent nodes of one graph.
  double nodeMicroseconds = 2.0;
  /// Fraction of the tensor peak cuBLASLt's GEMMs reach (large bf16 GEMMs
  /// on an H100 reach 0.7-0.8; a small model's narrow ones less).
  double gemmEfficiency = 0.7;
  /// Fraction of the bf16 tensor peak the kernel library's mma.sync
  /// attention passes reach: FlashAttention-2 itself runs causal head-dim
  /// 64 attention at about 0.2-0.3 of an H100's peak (FlashAttention-3
  /// paper, Shah et al. 2024), and the library's kernel is simpler.
  double attentionEfficiency = 0.2;
  /// Fraction of the HBM bandwidth memory-bound launches reach: a
  /// device-to-device copy reaches about 0.85, and issue 19's target for
  /// generated kernels is 0.75 of the copy's.
  double memoryEfficiency = 0.7;
  /// Attention blocks resident on one SM at a time in the block-level
  /// simulation, for every pass; 0: each pass its own (attentionOccupancy:
  /// from the library's registers and shared memory). Each resident block
  /// runs at 1 / (SMs x this) of the attention rate.
  int64_t attentionBlocksPerSm = 0;
  /// With a memory profile: the bandwidth factor of a kernel that moves
  /// less than half of its global bytes by 64- or 128-bit accesses (one
  /// 4-byte or 2-byte access per lane needs 2-8x the load/store
  /// instructions in flight for the same bytes; assumed to cost a fifth
  /// of the bandwidth).
  double scalarBandwidthFactor = 0.8;
};

/// One generated kernel's memory behaviour as the emulated GPU measured it
/// (the fake driver's report, summed over its launches; growc-run's
/// KernelMemory): what its bandwidth is derated by.
struct MeasuredKernel {
  std::string name;
  /// Global bytes, those moved by 64- or 128-bit accesses, the 32-byte
  /// sectors the warps' requests touched and the fewest they could have.
  int64_t bytes = 0, vectorBytes = 0, sectors = 0, idealSectors = 0;
};

/// A memory report of the emulated GPU, measured on a small shape of the
/// model whose plan is costed (kernel names do not depend on the shape).
struct MemoryProfile {
  std::string source; ///< the report's file, for the printout
  std::vector<MeasuredKernel> kernels;
};

/// The simulated time of one launch's blocks, in units of one tile pair:
/// `blockPairs` in launch order, each started on the first of `slots`
/// resident places (SMs x blocks per SM) to come free, as the hardware's
/// block scheduler hands them out; the makespan.
double attentionBlockMakespan(const std::vector<int64_t> &blockPairs,
                              int64_t slots);

/// Blocks of the kernel library's attention pass `kind` ("forward",
/// "backward": the backward's main pass) at head size `headDim` resident
/// on one SM of compute capability 9.0, the fewest its registers (per
/// thread, from `ptxas -arch=sm_90 -v`; a block of 128 threads holds 4
/// warps, each rounded up to 256 registers, of the SM's 65,536), its
/// dynamic shared memory (FlashAttentionLayout.h, plus 1 KiB reserved per
/// block, of 228 KiB) and the SM's thread and block limits allow: at head
/// size 64 forward 4 (registers and shared memory), backward 2
/// (registers); at 128 forward 2 (shared memory), backward 2.
int64_t attentionOccupancy(std::string_view kind, int64_t headDim);

/// The block simulation of one kind of attention launch over a step.
struct AttentionBalance {
  std::string kind; ///< "forward", "backward"
  /// Where its blocks run: SMs x resident blocks per SM.
  int64_t slots = 0;
  int64_t launches = 0;
  /// Per launch (of the first shape seen): its blocks, their tile pairs,
  /// the most pairs one block does.
  int64_t blocks = 0, pairs = 0, maxBlockPairs = 0;
  /// Makespan over the perfectly balanced time (all pairs spread evenly
  /// over every slot), FLOP-weighted over the step's launches.
  double imbalance = 0;
  /// Predicted seconds of these launches, node cost included.
  double predictedSeconds = 0;
  double flops = 0;
};

/// Launches of one kind on one step.
struct KindCost {
  std::string kind; ///< "kernel", "gemm", "attention", "optimizer", "copy"
  int64_t nodes = 0;
  double flops = 0; ///< counted (executed)
  double bytes = 0; ///< counted (lower bound)
  /// Predicted seconds, node cost included, at the limits and with the
  /// efficiency factors; nodeSeconds is the node cost alone.
  double limitSeconds = 0, predictedSeconds = 0, nodeSeconds = 0;
};

/// One generated kernel's launches on one step.
struct KernelCost {
  std::string name;
  int64_t calls = 0;
  double bytes = 0;
  double predictedSeconds = 0;
  /// With a memory profile: whether the report has the kernel, its
  /// sectors over the ideal, its vector share, and the factor its memory
  /// time was multiplied by (sectors/ideal, divided by the scalar
  /// bandwidth factor below half vector share; 1 when not measured).
  bool measured = false;
  double sectorRatio = 1, vectorShare = 0, memoryFactor = 1;
  /// Predicted seconds at the default assumption (full bandwidth at the
  /// memory efficiency).
  double defaultSeconds = 0;
};

/// A predicted step: its time and what follows from it.
struct StepPrediction {
  double seconds = 0;
  StepThroughput throughput;
};

/// One step of a plan's graph: a train graph's optimizer step (all its
/// micro-batches, each a committing call), one call of any other graph.
struct StepCost {
  std::string planPath, graph, target;
  GpuRates gpu;
  CostAssumptions assumptions;
  /// Calls of the graph per step (a train graph's micro-batches) and the
  /// tokens they process.
  int64_t calls = 1, tokens = 0;

  // Counted.
  /// Per kind: "kernel", "gemm", "attention", "optimizer" (the adamw
  /// step's three launches per call, memory-bound), "copy", in that order.
  std::vector<KindCost> kinds;
  int64_t nodes = 0;
  /// Kernel launches that only convert one f32 tensor to bf16.
  int64_t pureCastLaunches = 0;
  /// Generated kernels marked "kind": "attention" (--gpu-attention=flash
  /// or gemm): their bytes are counted, their FLOPs are not.
  int64_t generatedAttentionLaunches = 0;
  /// all_reduce steps: no node on one GPU (data-parallel runs only).
  int64_t allReduceSteps = 0;
  /// attention_grad steps run as two launches (prep and main, 5 products
  /// per tile pair, reading the forward's LSE).
  int64_t gemmSteps = 0, attentionSteps = 0, attentionGradSteps = 0;
  /// Attention forward steps writing the LSE.
  int64_t attentionLseWrites = 0;
  /// adamw steps run (one per call of a train graph that has one).
  int64_t adamWSteps = 0;
  int64_t copies = 0;
  double gemmFlops = 0;
  /// Weights of matrix products (every rank-2 parameter but a separate
  /// lm_head's embedding table; a tied table counts once, as the head) and
  /// the standard count over them: 6·N·tokens (train, grad) or 2·N·tokens.
  int64_t matmulParams = 0;
  double modelGemmFlops = 0;
  int modelGemmFactor = 0;
  /// Elements of frozen parameters (growc --trainable), and the GEMM
  /// FLOPs the model needs with them frozen: no weight gradient for a
  /// frozen weight, no input gradient before the first trainable
  /// parameter in the forward pass (HF names give the order). Equal to
  /// modelGemmFlops when nothing is frozen.
  int64_t frozenParams = 0;
  double neededGemmFlops = 0;
  /// Attention: what the kernel library's passes execute (whole 64x64
  /// tiles up to the diagonal; the backward recomputes the scores once, in
  /// its main pass) and the causal half
  /// that a model needs (T(T+1)/2 pairs).
  double attentionFlopsExecuted = 0, attentionFlopsCausal = 0;
  /// The model FLOPs of the training metrics' MFU (Throughput.h,
  /// FlopModel): per token, a third of it for forward and loss graphs.
  double mfuFlopsPerToken = 0;
  std::optional<PeakRate> mfuPeak;
  /// Host copies around the graph (inputs in, fetched outputs back): not
  /// graph nodes and not in the prediction.
  int64_t hostCopiesIn = 0, hostCopiesOut = 0;
  double hostBytesIn = 0, hostBytesOut = 0;
  /// Generated kernels by bytes, most first (all of them).
  std::vector<KernelCost> kernels;

  /// The attention launches' block simulation, per kind, in plan order of
  /// first appearance.
  std::vector<AttentionBalance> attentionBalance;

  /// With a memory profile: its file, the distinct generated kernels of
  /// the plan it has (measured) and of those the ones derated (factor >
  /// 1), those it lacks (default assumption), and its kernels this plan
  /// does not launch as generated kernels (the library's, other plans').
  std::string memoryProfile;
  int64_t measuredKernels = 0, deratedKernels = 0, unmeasuredKernels = 0,
          profileOnlyKernels = 0;

  // Predicted.
  StepPrediction limit, predicted;
};

/// The cost of one step of `plan` on `gpu`; with `memory`, each generated
/// kernel the report has is derated by its measured accesses.
StepCost estimateStepCost(const Plan &plan, const GpuRates &gpu,
                          const CostAssumptions &assumptions,
                          const MemoryProfile *memory = nullptr);

/// The report `growc-run cost` prints; `topKernels` kernels by bytes.
std::string formatStepCost(const StepCost &cost, int topKernels = 10);

/// The same as one JSON object (docs/gpu.md, "Cost model").
std::string stepCostJson(const StepCost &cost, int topKernels = 10);

} // namespace growc::rt

#endif // GROWC_RUNTIME_COSTMODEL_H

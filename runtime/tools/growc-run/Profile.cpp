//===- Profile.cpp - Where a run's time goes, step by step ----------------===//

#include "Profile.h"

#include "growc/runtime/Safetensors.h"

#include <algorithm>
#include <cstdint>
#include <map>
#include <set>
#include <sstream>

namespace growc::rt {

namespace {

/// The memory-bound target: a kernel at this fraction of the copy
/// bandwidth or more counts as at speed.
constexpr double kBandwidthTarget = 0.75;
/// The GEMM target: at most this many times the best candidate's time.
constexpr double kGemmTarget = 1.10;

/// Steps of the same kernel, or GEMMs of the same shape and types.
struct Group {
  std::string what;
  const char *op = "kernel";
  bool attention = false;
  int64_t calls = 0;
  double ms = 0, bytes = 0, flops = 0, bestMs = 0;
};

std::string gemmName(const PlanStep &s) {
  std::ostringstream name;
  name << "gemm " << s.m << "x" << s.n << "x" << s.k << " "
       << (s.transA ? "At" : "A") << (s.transB ? "Bt" : "B")
       << (s.beta ? "+C " : " ") << dtypeName(s.aType);
  if (s.cType != s.aType)
    name << "->" << dtypeName(s.cType);
  return name.str();
}

std::string jsonString(const std::string &text) {
  std::string out = "\"";
  for (char c : text)
    out += c == '"' || c == '\\' ? std::string("\\") + c : std::string(1, c);
  return out + "\"";
}

} // namespace

Status reportProfile(std::FILE *out, const Plan &plan, const StepTimes &times,
                     const std::string &jsonPath) {
  if (times.stepMs.size() != plan.steps.size())
    return Status::error("profile: " + std::to_string(times.stepMs.size()) +
                         " step times for " +
                         std::to_string(plan.steps.size()) + " steps");
  std::map<std::string, Group> groups;
  double totalMs = 0;
  for (size_t i = 0; i < plan.steps.size(); ++i) {
    const PlanStep &s = plan.steps[i];
    double ms = times.stepMs[i];
    totalMs += ms;
    Group probe;
    double bytes = 0, flops = 0;
    switch (s.op) {
    case PlanStep::Op::Kernel: {
      const PlanKernel &kernel = plan.kernels[s.kernel];
      probe.what = kernel.name;
      probe.attention = kernel.kind == "attention";
      // What the kernel touches: each of its buffers once.
      for (int64_t id : std::set<int64_t>(s.args.begin(), s.args.end()))
        bytes += double(plan.buffers[id].size);
      break;
    }
    case PlanStep::Op::Gemm:
      probe.what = gemmName(s);
      probe.op = "gemm";
      bytes =
          double(s.m * s.k * int64_t(dtypeSize(s.aType)) +
                 s.k * s.n * int64_t(dtypeSize(s.bType)) +
                 s.m * s.n * int64_t(dtypeSize(s.cType)) * (s.beta ? 2 : 1));
      flops = 2.0 * double(s.m) * double(s.n) * double(s.k);
      break;
    case PlanStep::Op::AllReduce:
      probe.what = "all_reduce";
      probe.op = "all_reduce";
      break;
    case PlanStep::Op::Attention:
    case PlanStep::Op::AttentionGrad: {
      bool backward = s.op == PlanStep::Op::AttentionGrad;
      // One group per kind and head size (the library's instances).
      probe.what =
          std::string(backward ? "mma attention_grad" : "mma attention") +
          " hd" + std::to_string(s.headDim);
      probe.attention = true;
      // Causal: half the T x T scores; the forward's two products (S, PV),
      // the backward's seven (S in each pass, dP twice, dV, dK, dQ).
      double pairs = double(s.seqLen) * double(s.seqLen + 1) / 2;
      flops = (backward ? 14.0 : 4.0) * double(s.batch * s.heads) * pairs *
              double(s.headDim);
      // Each operand read or written once.
      for (size_t i = 0; i < s.operands.size(); ++i)
        bytes += 4.0 * double(s.batch * s.seqLen * s.headDim) *
                 double(i % 4 == 1 || i % 4 == 2 ? s.kvHeads : s.heads);
      break;
    }
    case PlanStep::Op::AdamW: {
      // The whole optimizer, one group: its three launches over the flat
      // regions (each list's span, gaps included, as the kernels walk
      // it): the gradients read twice (norm, update), parameters and
      // both moments read and written, gradient sums and the weights'
      // bf16 copies (half the span) written.
      probe.what = "optimizer (adamw)";
      probe.op = "optimizer";
      double span = 0;
      if (!s.adamParams.empty()) {
        const PlanBuffer &first = plan.buffers[s.adamParams.front()];
        const PlanBuffer &last = plan.buffers[s.adamParams.back()];
        span = double(last.offset + last.size - first.offset);
      }
      bytes = span * (2 + 2 * 3 + (s.adamGradSums.empty() ? 0 : 1) +
                      (s.adamBf16Params.empty() ? 0 : 0.5));
      break;
    }
    }
    Group &group = groups.emplace(probe.what, probe).first->second;
    ++group.calls;
    group.ms += ms;
    group.bytes += bytes;
    group.flops += flops;
    if (!times.bestGemmMs.empty())
      group.bestMs += times.bestGemmMs[i];
  }
  std::vector<const Group *> order;
  for (const auto &[name, group] : groups)
    order.push_back(&group);
  std::sort(order.begin(), order.end(), [](const Group *a, const Group *b) {
    return a->ms != b->ms ? a->ms > b->ms : a->what < b->what;
  });

  const bool gpu = times.copyBytesPerSecond > 0;
  std::fprintf(out, "growc-run: profile of %s on %s: %zu steps, %.3f ms\n",
               plan.path.c_str(), times.device.c_str(), plan.steps.size(),
               totalMs);
  if (gpu)
    std::fprintf(out, "growc-run: device-to-device copy bandwidth %.1f GB/s\n",
                 times.copyBytesPerSecond * 1e-9);
  std::fprintf(out, "growc-run: %-44s %6s %10s %6s %9s %8s %s\n", "step",
               "calls", "ms", "share", "GB/s", "TFLOP/s",
               gpu ? "vs target" : "");
  std::ostringstream rows;
  rows.precision(12);
  double boundMs = 0, boundAtSpeedMs = 0, boundBytes = 0, gemmMs = 0,
         gemmBestMs = 0, worstGemm = 0, attentionMs = 0;
  for (const Group *g : order) {
    double seconds = g->ms * 1e-3;
    double gbs = seconds > 0 ? g->bytes / seconds * 1e-9 : 0;
    double tflops = seconds > 0 ? g->flops / seconds * 1e-12 : 0;
    std::string verdict;
    char buf[64];
    bool memoryBound =
        (std::string(g->op) == "kernel" || std::string(g->op) == "optimizer") &&
        !g->attention;
    if (memoryBound) {
      boundMs += g->ms;
      boundBytes += g->bytes;
    }
    if (gpu && memoryBound) {
      double fraction =
          seconds > 0 ? g->bytes / seconds / times.copyBytesPerSecond : 0;
      std::snprintf(buf, sizeof buf, "%.0f%% of copy", 100 * fraction);
      verdict = buf;
      if (fraction >= kBandwidthTarget)
        boundAtSpeedMs += g->ms;
    }
    if (g->attention)
      attentionMs += g->ms;
    if (std::string(g->op) == "gemm") {
      gemmMs += g->ms;
      if (g->bestMs > 0) {
        double ratio = g->ms / g->bestMs;
        std::snprintf(buf, sizeof buf, "%.2fx best", ratio);
        verdict = buf;
        gemmBestMs += g->bestMs;
        worstGemm = std::max(worstGemm, ratio);
      }
    }
    std::string label = g->what + (g->attention ? " (attention)" : "");
    std::fprintf(out, "growc-run: %-44s %6lld %10.3f %5.1f%% %9.1f %8.2f %s\n",
                 label.c_str(), static_cast<long long>(g->calls), g->ms,
                 totalMs > 0 ? 100 * g->ms / totalMs : 0.0, gbs, tflops,
                 verdict.c_str());
    rows << (rows.tellp() > 0 ? ",\n    " : "    ")
         << "{\"what\": " << jsonString(g->what) << ", \"op\": \"" << g->op
         << "\", \"attention\": " << (g->attention ? "true" : "false")
         << ", \"calls\": " << g->calls << ", \"ms\": " << g->ms
         << ", \"bytes\": " << g->bytes << ", \"flops\": " << g->flops
         << ", \"best_ms\": " << g->bestMs << "}";
  }
  std::ostringstream summary;
  summary.precision(12);
  summary << "\"total_ms\": " << totalMs << ", \"gemm_ms\": " << gemmMs
          << ", \"attention_ms\": " << attentionMs
          << ", \"memory_bound_ms\": " << boundMs;
  if (gpu && boundMs > 0) {
    double fraction = boundBytes / (boundMs * 1e-3) / times.copyBytesPerSecond;
    std::fprintf(out,
                 "growc-run: memory-bound kernels: %.3f ms at %.0f%% of the "
                 "copy bandwidth overall; %.0f%% of that time in kernels at "
                 "%.0f%% or more\n",
                 boundMs, 100 * fraction, 100 * boundAtSpeedMs / boundMs,
                 100 * kBandwidthTarget);
    summary << ", \"copy_bytes_per_s\": " << times.copyBytesPerSecond
            << ", \"memory_bound_copy_fraction\": " << fraction
            << ", \"memory_bound_time_at_target\": "
            << boundAtSpeedMs / boundMs;
  }
  if (gemmBestMs > 0) {
    std::fprintf(out,
                 "growc-run: GEMMs: %.3f ms, %.2fx the best candidates' "
                 "%.3f ms; worst shape %.2fx (target %.2fx)\n",
                 gemmMs, gemmMs / gemmBestMs, gemmBestMs, worstGemm,
                 kGemmTarget);
    summary << ", \"gemm_best_ms\": " << gemmBestMs
            << ", \"gemm_worst_ratio\": " << worstGemm;
  }
  if (jsonPath.empty())
    return Status::ok();
  std::string text = "{\"plan\": " + jsonString(plan.path) +
                     ", \"device\": " + jsonString(times.device) + ", " +
                     summary.str() + ",\n  \"groups\": [\n" + rows.str() +
                     "\n  ]}\n";
  return writeFileAtomically(jsonPath, [&](std::FILE *file) -> Status {
    if (std::fwrite(text.data(), 1, text.size(), file) != text.size())
      return Status::error(jsonPath + ": write failed");
    return Status::ok();
  });
}

} // namespace growc::rt

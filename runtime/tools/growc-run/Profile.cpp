//===- Profile.cpp - Where a run's time goes, step by step ----------------===//

#include "Profile.h"

#include "growc/runtime/Json.h"
#include "growc/runtime/Safetensors.h"

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <map>
#include <set>
#include <sstream>

#include <dlfcn.h>

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

/// Prints the emulated GPU's memory behaviour per kernel (per run of the
/// step), most bytes first, with a total; returns it as JSON rows.
std::string reportMemory(std::FILE *out, const StepTimes &times) {
  std::vector<KernelMemory> kernels = times.memory;
  std::sort(kernels.begin(), kernels.end(),
            [](const KernelMemory &a, const KernelMemory &b) {
              return a.bytes() != b.bytes() ? a.bytes() > b.bytes()
                                            : a.name < b.name;
            });
  if (kernels.empty()) {
    // The toy kernels of an image without entry points run on the host.
    std::fprintf(out, "growc-run: emulated memory behaviour: no PTX kernel "
                      "ran\n");
    return "";
  }
  double runs = std::max(1, times.runs);
  std::fprintf(out,
               "growc-run: emulated memory behaviour per kernel (the PTX "
               "interpreter's counts per run of the step, mean of %d; caches "
               "not modelled):\n",
               times.runs);
  std::fprintf(out, "growc-run: %-44s %6s %12s %6s %7s %8s %6s %9s\n", "kernel",
               "calls", "global bytes", "64-bit", "128-bit", "sect/req",
               "ideal", "bank x");
  KernelMemory total;
  total.name = "total";
  std::ostringstream rows;
  rows.precision(12);
  auto row = [&](const KernelMemory &k) {
    // Bank conflicts: "-" for a kernel without shared-memory accesses.
    char banks[32] = "-";
    if (k.sharedRequests)
      std::snprintf(banks, sizeof banks, "%.2f", k.bankConflicts());
    std::fprintf(
        out, "growc-run: %-44s %6.0f %12.0f %5.1f%% %6.1f%% %8.2f %6.2f %9s\n",
        k.name.c_str(), double(k.launches) / runs, double(k.bytes()) / runs,
        k.bytes() ? 100.0 * double(k.bytes64) / double(k.bytes()) : 0,
        k.bytes() ? 100.0 * double(k.bytes128) / double(k.bytes()) : 0,
        k.sectorsPerRequest(), k.idealSectorsPerRequest(), banks);
  };
  for (const KernelMemory &k : kernels) {
    row(k);
    total.add(k);
    rows << (rows.tellp() > 0 ? ",\n    " : "    ")
         << "{\"kernel\": " << jsonString(k.name)
         << ", \"launches\": " << k.launches
         << ", \"load_bytes\": " << k.loadBytes
         << ", \"store_bytes\": " << k.storeBytes
         << ", \"bytes_64\": " << k.bytes64 << ", \"bytes_128\": " << k.bytes128
         << ", \"requests\": " << k.requests << ", \"sectors\": " << k.sectors
         << ", \"ideal_sectors\": " << k.idealSectors
         << ", \"shared_requests\": " << k.sharedRequests
         << ", \"shared_bytes\": " << k.sharedBytes
         << ", \"wavefronts\": " << k.wavefronts
         << ", \"ideal_wavefronts\": " << k.idealWavefronts
         << ", \"vector_share\": " << k.vectorShare()
         << ", \"sectors_per_request\": " << k.sectorsPerRequest()
         << ", \"bank_conflicts\": " << k.bankConflicts() << "}";
  }
  row(total);
  // The issue-20 measures, for the generated kernels apart from the kernel
  // library's (entry points growc_*, like the plan's library symbols):
  // the share of bytes moved by 64/128-bit accesses, and sectors over the
  // ideal with each kernel counted at least at its ideal, so that one
  // kernel's broadcast loads cannot hide another's uncoalesced ones.
  for (bool library : {false, true}) {
    int64_t bytes = 0, vectorBytes = 0, sectors = 0, ideal = 0;
    for (const KernelMemory &k : kernels) {
      if ((k.name.rfind("growc_", 0) == 0) != library)
        continue;
      bytes += k.bytes();
      vectorBytes += k.bytes64 + k.bytes128;
      sectors += std::max(k.sectors, k.idealSectors);
      ideal += k.idealSectors;
    }
    if (bytes == 0)
      continue;
    std::fprintf(out,
                 "growc-run: %s kernels: %.0f bytes, %.1f%% of them in 64- "
                 "or 128-bit accesses, %.3f sectors per ideal sector (each "
                 "kernel at least its ideal)\n",
                 library ? "library" : "generated", double(bytes) / runs,
                 100.0 * double(vectorBytes) / double(bytes),
                 ideal ? double(sectors) / double(ideal) : 0.0);
  }
  return rows.str();
}

} // namespace

double KernelMemory::vectorShare() const {
  return bytes() ? double(bytes64 + bytes128) / double(bytes()) : 0;
}
double KernelMemory::sectorsPerRequest() const {
  return requests ? double(sectors) / double(requests) : 0;
}
double KernelMemory::idealSectorsPerRequest() const {
  return requests ? double(idealSectors) / double(requests) : 0;
}
double KernelMemory::bankConflicts() const {
  return idealWavefronts ? double(wavefronts) / double(idealWavefronts) : 0;
}
void KernelMemory::add(const KernelMemory &o) {
  launches += o.launches;
  loadBytes += o.loadBytes;
  storeBytes += o.storeBytes;
  bytes64 += o.bytes64;
  bytes128 += o.bytes128;
  requests += o.requests;
  sectors += o.sectors;
  idealSectors += o.idealSectors;
  sharedRequests += o.sharedRequests;
  sharedBytes += o.sharedBytes;
  wavefronts += o.wavefronts;
  idealWavefronts += o.idealWavefronts;
}

StatusOr<std::vector<KernelMemory>> parseMemoryReport(std::string_view json,
                                                      const std::string &what) {
  StatusOr<JsonValue> root = parseJson(json);
  if (!root.isOk())
    return Status::error(what + ": " + root.status().message());
  const JsonValue *list = root->find("kernels");
  if (!list || !list->isArray())
    return Status::error(what + ": no \"kernels\" array");
  std::vector<KernelMemory> kernels;
  for (const JsonValue &entry : list->elements()) {
    KernelMemory k;
    const JsonValue *name = entry.find("name");
    if (!name || !name->isString())
      return Status::error(what + ": a kernel without a \"name\"");
    k.name = name->asString();
    for (auto [key, field] : std::initializer_list<
             std::pair<const char *, int64_t KernelMemory::*>>{
             {"launches", &KernelMemory::launches},
             {"load_bytes", &KernelMemory::loadBytes},
             {"store_bytes", &KernelMemory::storeBytes},
             {"bytes_64", &KernelMemory::bytes64},
             {"bytes_128", &KernelMemory::bytes128},
             {"requests", &KernelMemory::requests},
             {"sectors", &KernelMemory::sectors},
             {"ideal_sectors", &KernelMemory::idealSectors},
             {"shared_requests", &KernelMemory::sharedRequests},
             {"shared_bytes", &KernelMemory::sharedBytes},
             {"wavefronts", &KernelMemory::wavefronts},
             {"ideal_wavefronts", &KernelMemory::idealWavefronts}}) {
      const JsonValue *value = entry.find(key);
      if (!value || !value->getInt64(k.*field) || k.*field < 0)
        return Status::error(what + ": kernel '" + k.name + "': \"" + key +
                             "\" is not a count");
    }
    kernels.push_back(std::move(k));
  }
  return kernels;
}

std::unique_ptr<EmulatedMemory> EmulatedMemory::start() {
  const char *configured = std::getenv("GROWC_LIBCUDA");
  // The driver the executor loaded, if it is loaded: no second copy.
  void *library =
      ::dlopen(configured && *configured ? configured : "libcuda.so.1",
               RTLD_NOW | RTLD_LOCAL | RTLD_NOLOAD);
  if (!library)
    return nullptr;
  auto memory = std::unique_ptr<EmulatedMemory>(new EmulatedMemory);
  memory->library = library;
  memory->profileMemory = reinterpret_cast<void (*)(int)>(
      ::dlsym(library, "growcFakeCudaProfileMemory"));
  memory->report = reinterpret_cast<const char *(*)()>(
      ::dlsym(library, "growcFakeCudaMemoryProfile"));
  if (!memory->profileMemory || !memory->report)
    return nullptr; // a real driver
  memory->profileMemory(1);
  return memory;
}

EmulatedMemory::~EmulatedMemory() {
  if (profileMemory)
    profileMemory(0);
  if (library)
    ::dlclose(library);
}

StatusOr<std::vector<KernelMemory>> EmulatedMemory::read() const {
  return parseMemoryReport(report(), "the fake driver's memory report");
}

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
  std::fprintf(out, "growc-run: profile of %s on %s: %zu steps, %.3f ms%s\n",
               plan.path.c_str(), times.device.c_str(), plan.steps.size(),
               totalMs,
               times.emulated ? " (emulated: the PTX interpreter's times, not "
                                "a GPU's)"
                              : "");
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
  std::string memoryRows;
  if (times.emulated)
    memoryRows = reportMemory(out, times);
  if (jsonPath.empty())
    return Status::ok();
  std::string text = "{\"plan\": " + jsonString(plan.path) +
                     ", \"device\": " + jsonString(times.device) + ", " +
                     summary.str() + ",\n  \"groups\": [\n" + rows.str() +
                     "\n  ]";
  if (times.emulated)
    text += ", \"emulated_runs\": " + std::to_string(times.runs) +
            ",\n  \"emulated_memory\": [\n" + memoryRows + "\n  ]";
  text += "}\n";
  return writeFileAtomically(jsonPath, [&](std::FILE *file) -> Status {
    if (std::fwrite(text.data(), 1, text.size(), file) != text.size())
      return Status::error(jsonPath + ": write failed");
    return Status::ok();
  });
}

} // namespace growc::rt

//===- GemmTuning.cpp - Choosing cuBLASLt algorithms per GEMM -------------===//
//
// Timing the heuristic's candidates and the on-disk cache of the winners
// (GemmTuning.h).
//
//===----------------------------------------------------------------------===//

#include "growc/runtime/GemmTuning.h"

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <unistd.h>

using namespace growc::rt;

namespace {

std::string hexOf(const cublasLtMatmulAlgo_t &algo) {
  std::string out;
  char buf[3];
  const auto *bytes = reinterpret_cast<const unsigned char *>(&algo);
  for (size_t i = 0; i < sizeof algo; ++i) {
    std::snprintf(buf, sizeof buf, "%02x", bytes[i]);
    out += buf;
  }
  return out;
}

bool algoFromHex(const std::string &hex, cublasLtMatmulAlgo_t &algo) {
  if (hex.size() != 2 * sizeof algo)
    return false;
  auto *bytes = reinterpret_cast<unsigned char *>(&algo);
  for (size_t i = 0; i < sizeof algo; ++i) {
    unsigned value;
    if (std::sscanf(hex.c_str() + 2 * i, "%2x", &value) != 1)
      return false;
    bytes[i] = static_cast<unsigned char>(value);
  }
  return true;
}

} // namespace

std::string growc::rt::algorithmCachePath() {
  std::string dir;
  if (const char *d = std::getenv("GROWC_CACHE_DIR"); d && *d)
    dir = d;
  else if (const char *x = std::getenv("XDG_CACHE_HOME"); x && *x)
    dir = std::string(x) + "/growc";
  else if (const char *h = std::getenv("HOME"); h && *h)
    dir = std::string(h) + "/.cache/growc";
  else
    dir = "/tmp/growc-cache";
  return dir + "/cublaslt-algorithms.txt";
}

// Returns the failed call's Status from the enclosing function.
#define GROWC_CU(call)                                                         \
  do {                                                                         \
    if (Status s_ = device.cu->check(call, #call); !s_.isOk())                 \
      return s_;                                                               \
  } while (false)
#define GROWC_LT(call)                                                         \
  do {                                                                         \
    if (Status s_ = device.lt->check(call, #call); !s_.isOk())                 \
      return s_;                                                               \
  } while (false)

StatusOr<std::vector<TimedAlgorithm>>
growc::rt::timeGemmCandidates(const GemmDevice &device, const GemmCall &gemm,
                              int count) {
  cuda::Driver *cu = device.cu;
  cuda::BlasLt *lt = device.lt;
  cublasLtMatmulPreference_t preference = nullptr;
  GROWC_LT(lt->cublasLtMatmulPreferenceCreate(&preference));
  CUevent start = nullptr, stop = nullptr;
  std::vector<cublasLtMatmulHeuristicResult_t> results(
      static_cast<size_t>(count));
  std::vector<TimedAlgorithm> timed;
  // Everything made here is destroyed on every path out.
  auto run = [&]() -> Status {
    size_t workspaceBytes = kGemmWorkspaceBytes;
    GROWC_LT(lt->cublasLtMatmulPreferenceSetAttribute(
        preference, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES, &workspaceBytes,
        sizeof workspaceBytes));
    const cublasLtMatmulPreferenceAttributes_t alignments[4] = {
        CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_A_BYTES,
        CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_B_BYTES,
        CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_C_BYTES,
        CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_D_BYTES};
    for (int i = 0; i < 4; ++i)
      GROWC_LT(lt->cublasLtMatmulPreferenceSetAttribute(
          preference, alignments[i], &gemm.alignment[i < 3 ? i : 2],
          sizeof(uint32_t)));
    GROWC_CU(cu->cuEventCreate(&start, CU_EVENT_DEFAULT));
    GROWC_CU(cu->cuEventCreate(&stop, CU_EVENT_DEFAULT));
    int found = 0;
    GROWC_LT(lt->cublasLtMatmulAlgoGetHeuristic(
        device.handle, gemm.desc, gemm.a, gemm.b, gemm.c, gemm.c, preference,
        count, results.data(), &found));
    if (found == 0)
      return Status::error("cuBLASLt has no algorithm for the GEMM " +
                           gemm.key);
    float alpha = 1.0f, beta = gemm.beta;
    for (int i = 0; i < found; ++i) {
      auto call = [&] {
        return lt->cublasLtMatmul(
            device.handle, gemm.desc, &alpha,
            reinterpret_cast<void *>(gemm.aPtr), gemm.a,
            reinterpret_cast<void *>(gemm.bPtr), gemm.b, &beta,
            reinterpret_cast<void *>(gemm.cPtr), gemm.c,
            reinterpret_cast<void *>(gemm.cPtr), gemm.c,
            &results[size_t(i)].algo,
            reinterpret_cast<void *>(device.workspace), kGemmWorkspaceBytes,
            reinterpret_cast<cudaStream_t>(device.stream));
      };
      if (call() != CUBLAS_STATUS_SUCCESS)
        continue; // a candidate that cannot run this shape
      constexpr int kTimedCalls = 5;
      GROWC_CU(cu->cuEventRecord(start, device.stream));
      for (int r = 0; r < kTimedCalls; ++r)
        GROWC_LT(call());
      GROWC_CU(cu->cuEventRecord(stop, device.stream));
      GROWC_CU(cu->cuEventSynchronize(stop));
      float ms = 0;
      GROWC_CU(cu->cuEventElapsedTime(&ms, start, stop));
      timed.push_back({results[size_t(i)].algo, double(ms) / kTimedCalls});
    }
    if (timed.empty())
      return Status::error("no cuBLASLt candidate ran the GEMM " + gemm.key);
    return Status::ok();
  };
  Status status = run();
  if (start)
    cu->cuEventDestroy(start);
  if (stop)
    cu->cuEventDestroy(stop);
  lt->cublasLtMatmulPreferenceDestroy(preference);
  if (!status.isOk())
    return status;
  return timed;
}

StatusOr<cublasLtMatmulAlgo_t>
growc::rt::tuneGemm(const GemmDevice &device, const GemmCall &call, int count) {
  StatusOr<std::vector<TimedAlgorithm>> timed =
      timeGemmCandidates(device, call, count);
  if (!timed.isOk())
    return timed.status();
  const TimedAlgorithm *best = &timed->front();
  for (const TimedAlgorithm &candidate : *timed)
    if (candidate.ms < best->ms)
      best = &candidate;
  return best->algo;
}

GemmAlgorithmCache::GemmAlgorithmCache(std::string cachePath)
    : path(std::move(cachePath)) {
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line)) {
    size_t space = line.rfind(' ');
    if (space != std::string::npos)
      entries[line.substr(0, space)] = line.substr(space + 1);
  }
}

bool GemmAlgorithmCache::find(const std::string &deviceName,
                              const std::string &key,
                              cublasLtMatmulAlgo_t &algo) const {
  auto it = entries.find(deviceName + "|" + key);
  return it != entries.end() && algoFromHex(it->second, algo);
}

void GemmAlgorithmCache::insert(const std::string &deviceName,
                                const std::string &key,
                                const cublasLtMatmulAlgo_t &algo) {
  entries[deviceName + "|" + key] = hexOf(algo);
  changed = true;
}

void GemmAlgorithmCache::save() const {
  if (!changed)
    return;
  std::string dir = path.substr(0, path.rfind('/'));
  std::string mkdir = "mkdir -p '" + dir + "'";
  if (std::system(mkdir.c_str()) != 0)
    return;
  std::string temp = path + ".tmp." + std::to_string(::getpid());
  std::ofstream out(temp);
  for (const auto &[key, hex] : entries)
    out << key << " " << hex << "\n";
  out.close();
  if (!out || std::rename(temp.c_str(), path.c_str()) != 0)
    std::remove(temp.c_str());
}

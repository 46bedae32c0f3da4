//===- TestKernels.cpp - Kernels of the executor tests' toy plan ----------===//
//
// A stand-in for a growc-generated kernels file, built as a shared object
// for CpuExecutorTest: functions with the generated kernels' C signature
// `void symbol(void **args, int64_t begin, int64_t end)` running blocks
// [begin, end), whose sizes are fixed to the toy plan in ToyModel.h (embed:
// one block per token, add_one: one per element). Test infrastructure only,
// not model math.
//
//===----------------------------------------------------------------------===//

#include <algorithm>
#include <cstdint>

namespace {
// The toy plan's shapes (ToyModel.h): tokens [2, 3], embedding [5, 4],
// logits [2, 3, 5].
constexpr int kTokens = 2 * 3;
constexpr int kVocab = 5;
constexpr int kDim = 4;
constexpr int kLogits = 2 * 3 * 5;
} // namespace

#define GROWC_TEST_EXPORT extern "C" __attribute__((visibility("default")))

/// The kernels file's signature table (growc_kernel_signatures, see
/// growc/runtime/KernelsFile.h): a placeholder that the tests' writeArtifact
/// (ToyModel.h) overwrites, in its copy of this file, with the table of the
/// plan it writes beside it, since the tests describe these kernels in
/// several ways (block counts, launches, symbols).
GROWC_TEST_EXPORT const char growc_kernel_signatures[16384] =
    "GROWC_TEST_KERNEL_SIGNATURES";

/// args: tokens (I32 [2, 3]), table (F32 [5, 4]) -> out (F32 [2, 3, 4]):
/// out[i, j, :] = table[tokens[i, j], :]. Like a generated embedding
/// (docs/codegen.md), the row is the token clamped, as an unsigned value, to
/// the last row, never an address taken from a value it loaded
/// (PlanMutationTest).
GROWC_TEST_EXPORT void embed_packed(void **args, int64_t begin, int64_t end) {
  const auto *tokens = static_cast<const int32_t *>(args[0]);
  const auto *table = static_cast<const float *>(args[1]);
  auto *out = static_cast<float *>(args[2]);
  for (int64_t i = begin; i < end && i < kTokens; ++i) {
    uint32_t row = std::min(uint32_t(tokens[i]), uint32_t(kVocab - 1));
    for (int d = 0; d < kDim; ++d)
      out[i * kDim + d] = table[row * kDim + d];
  }
}

/// args: in (F32 [30]) -> out (F32 [30]): out[i] = in[i] + 1.
GROWC_TEST_EXPORT void add_one_packed(void **args, int64_t begin, int64_t end) {
  const auto *in = static_cast<const float *>(args[0]);
  auto *out = static_cast<float *>(args[1]);
  for (int64_t i = begin; i < end && i < kLogits; ++i)
    out[i] = in[i] + 1.0f;
}

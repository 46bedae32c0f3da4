//===- PtxInterpreter.h - Runs PTX kernels on the host, for tests -*- C++ -*-//
//
// Test infrastructure, not a product: an interpreter for the subset of PTX
// that LLVM's NVPTX backend emits for growc's kernels (and nvcc's for the
// toy kernels), so that the fake driver (FakeCuda.cpp) runs a compiled
// artifact's real kernels and the CUDA executor can be checked end to end,
// against PyTorch, on a machine without a GPU.
//
// - Parsing rejects what it does not implement (an instruction, a modifier,
//   an operand form) with the PTX line, so an unsupported kernel is a clear
//   load error, never a silently wrong result.
// - Execution: the blocks of a grid one after another; in a block, each
//   thread runs alone until it reaches a barrier or exits, then the next
//   (barriers release when every live thread has arrived). That is a valid
//   schedule for data-race-free kernels that synchronise with bar.sync,
//   which is what growc emits. Warp-collective instructions (shfl.sync,
//   ldmatrix, mma.sync m16n8k16 bf16) wait until every lane of the warp
//   has reached them and then run for the whole warp, with the fragment
//   layouts of the PTX ISA; others (vote, atomics, wgmma) are rejected at
//   load.
// - Addresses are host addresses: global memory is the fake driver's
//   allocations, and each block's shared memory and each thread's local
//   memory are host buffers. Every load and store is checked against its
//   state space (global: the allocations the caller knows), so an
//   out-of-bounds access is reported with the kernel, the PTX line, the
//   thread and the block, like compute-sanitizer.
//
//===----------------------------------------------------------------------===//

#ifndef GROWC_RUNTIME_TESTING_PTXINTERPRETER_H
#define GROWC_RUNTIME_TESTING_PTXINTERPRETER_H

#include "PtxParser.h"

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace growc::ptx {

struct Launch {
  unsigned grid[3] = {1, 1, 1};
  unsigned block[3] = {1, 1, 1};
  unsigned dynamicShared = 0;
  /// The parameters' bytes, packed at the offsets paramSizes implies
  /// (each aligned to its size).
  std::vector<uint8_t> params;
};

/// The global allocation that holds `address` (its base and size), if any.
using GlobalCheck =
    std::function<bool(uint64_t address, uint64_t &base, uint64_t &size)>;

/// Runs `kernel` over the grid. Returns an empty string, or what went
/// wrong (an out-of-bounds access, a barrier that can never release, a
/// launch the kernel does not allow).
std::string run(const Module &module, const Kernel &kernel,
                const Launch &launch, const GlobalCheck &isGlobal);

} // namespace growc::ptx

#endif // GROWC_RUNTIME_TESTING_PTXINTERPRETER_H

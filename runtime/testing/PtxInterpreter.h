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
//   layouts of the PTX ISA; others (vote, wgmma) are rejected at load.
//   Atomic adds to global memory (red, atom) are atomic by construction.
//   cp.async reads its source at issue and writes shared memory when the
//   thread waits for its group (cp.async.wait_group), the latest moment
//   the ISA allows, so a missing wait reads stale data; the destination
//   counts as written from the issue on for the race check.
// - Addresses are host addresses: global memory is the fake driver's
//   allocations, and each block's shared memory and each thread's local
//   memory are host buffers. Every load and store is checked against its
//   state space (global: the allocations the caller knows), so an
//   out-of-bounds access is reported with the kernel, the PTX line, the
//   thread and the block, like compute-sanitizer.
// - Memory behaviour, where the caller asks for it (MemoryStats): the
//   global bytes each kernel loads and stores and the access widths that
//   move them, the 32-byte sectors each warp-level global request touches
//   and the wavefronts each warp-level shared access takes (bank
//   conflicts). Threads run one at a time, so each access is recorded with
//   its warp, instruction and per-thread occurrence, and a warp's lanes at
//   the same dynamic instruction are combined when the warp can no longer
//   add to it (at a barrier's release, when the warp is done). Without
//   MemoryStats nothing is recorded.
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
  /// Runs the blocks last to first instead of first to last: another
  /// schedule a GPU may take, under which a kernel whose result must not
  /// depend on its blocks' order (a last block summing the others'
  /// partials) is checked to give the same bits.
  bool reverseBlocks = false;
  /// The parameters' bytes, packed at the offsets paramSizes implies
  /// (each aligned to its size).
  std::vector<uint8_t> params;
};

/// What a kernel's memory accesses did, summed over its launches (the
/// emulated GPU as an instrument; docs/gpu.md). A warp-level request is
/// one ld/st (or ldmatrix) executed by the active lanes of one warp at
/// the same dynamic instruction. Caches are not modelled: every request
/// counts its sectors whether or not an earlier one touched them.
struct MemoryStats {
  uint64_t launches = 0;
  /// Global memory (ld/st .global, or generic addresses outside shared
  /// and local memory): the bytes the lanes asked for. cp.async counts its
  /// global source as loaded (its shared side is not counted); red and
  /// atom count as stored.
  uint64_t loadBytes = 0, storeBytes = 0;
  /// Of those, the bytes moved by accesses of 8 and of 16 bytes per lane
  /// (ld/st .v2.b32, .b64/.u64/.f64, .v4.b16; .v4.b32, .v2.b64).
  uint64_t bytes64 = 0, bytes128 = 0;
  /// Warp-level global requests, the distinct 32-byte sectors they
  /// touched, and the fewest they could have touched (each request's
  /// bytes / 32, rounded up).
  uint64_t requests = 0, sectors = 0, idealSectors = 0;
  /// Warp-level shared-memory requests (ld/st .shared or generic, and
  /// ldmatrix), the wavefronts they took with 32 banks of 4 bytes, and
  /// the fewest they could have taken (each request's bytes / 128,
  /// rounded up). A request's lanes are served in phases of 128 bytes
  /// (the whole warp for accesses up to 4 bytes, half-warps for 8-byte
  /// ones, quarter-warps for 16-byte ones, one 8x8 matrix of ldmatrix at
  /// a time); a phase takes as many wavefronts as the most distinct
  /// 4-byte words it addresses in one bank (lanes reading the same word
  /// share it: a broadcast).
  uint64_t sharedRequests = 0, sharedBytes = 0, wavefronts = 0,
           idealWavefronts = 0;

  void add(const MemoryStats &other);
};

/// The global allocation that holds `address` (its base and size), if any.
using GlobalCheck =
    std::function<bool(uint64_t address, uint64_t &base, uint64_t &size)>;

/// Runs `kernel` over the grid. Returns an empty string, or what went
/// wrong (an out-of-bounds access, a barrier that can never release, a
/// launch the kernel does not allow). With `stats`, adds the launch's
/// memory behaviour to it.
std::string run(const Module &module, const Kernel &kernel,
                const Launch &launch, const GlobalCheck &isGlobal,
                MemoryStats *stats = nullptr);

} // namespace growc::ptx

#endif // GROWC_RUNTIME_TESTING_PTXINTERPRETER_H

//===- NcclCollective.h - Collectives over NCCL (GPU memory) ----*- C++ -*-===//
//
// The GPU engine of Collective.h: one process per GPU, gradients reduced in
// device memory by NCCL on a stream the executor chooses. NCCL and the
// driver are opened with dlopen (CudaLibraries.h), so this builds wherever
// the CUDA headers are and fails with a plain message where there is no
// driver, no GPU or no NCCL.
//
// NCCL's communicator needs a unique id made by rank 0 and given to every
// rank before ncclCommInitRank. It travels through a host-memory
// "bootstrap" collective, which also serves the engine's host-memory calls
// (allReduce, broadcast, barrier of the training loop's scalars): MPI when
// the job was started by mpirun, else the tcp engine from RANK,
// WORLD_SIZE, LOCAL_RANK, LOCAL_WORLD_SIZE, MASTER_ADDR and MASTER_PORT
// (torchrun's variables), i.e. whatever createCollective() picks.
//
// Status: compiled against NCCL 2.28's header and its failure paths tested
// (no driver, stub driver, missing NCCL); it has not run on a GPU.
//
//===----------------------------------------------------------------------===//

#ifndef GROWC_RUNTIME_NCCLCOLLECTIVE_H
#define GROWC_RUNTIME_NCCLCOLLECTIVE_H

#include "growc/runtime/Collective.h"

#include <memory>
#include <string>

namespace growc::rt {

struct NcclOptions {
  /// "" = the default sonames; tests point these at missing files or the
  /// toolkit's stub driver.
  std::string ncclPath;
  std::string driverPath;
  /// The GPU of this rank; -1: the bootstrap's local rank (one process per
  /// GPU, as mpirun or torchrun number them).
  int device = -1;
};

/// Sets up NCCL on this rank's GPU over `bootstrap` (its ranks are NCCL's
/// ranks). Every rank learns whether every other rank got that far before
/// the collective ncclCommInitRank, so that a rank without a GPU fails the
/// whole job with its message instead of leaving the others waiting.
StatusOr<std::unique_ptr<Collective>>
createNcclCollective(std::unique_ptr<Collective> bootstrap,
                     const NcclOptions &options = NcclOptions());

} // namespace growc::rt

#endif // GROWC_RUNTIME_NCCLCOLLECTIVE_H

//===- DataParallel.h - growc-run train on several ranks --------*- C++ -*-===//
//
// What `growc-run train` needs to run data-parallel (docs/training.md,
// "Data-parallel training"): starting its own ranks under mpirun for
// `--nproc N` and knowing when not to. What every rank checks once it runs
// is the training loop's (growc/runtime/TrainLoop.h).
//
//===----------------------------------------------------------------------===//

#ifndef GROWC_RUNTIME_TOOLS_GROWC_RUN_DATAPARALLEL_H
#define GROWC_RUNTIME_TOOLS_GROWC_RUN_DATAPARALLEL_H

#include "growc/runtime/Status.h"

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace growc::rt {

/// Whether the process runs inside a data-parallel job started by someone
/// else (mpirun, or RANK/WORLD_SIZE set), where --nproc makes no sense.
bool insideDistributedJob();

/// Replaces this process by `mpirun -np N <this growc-run> train ARGS`
/// ($GROWC_MPIRUN, else mpirun on PATH), with the options a single machine
/// needs (see the .cpp). Returns only on failure, with the reason.
Status relaunchUnderMpirun(int64_t nproc,
                           const std::vector<std::string_view> &trainArgs);

} // namespace growc::rt

#endif // GROWC_RUNTIME_TOOLS_GROWC_RUN_DATAPARALLEL_H

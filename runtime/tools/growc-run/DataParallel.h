//===- DataParallel.h - growc-run train on several ranks --------*- C++ -*-===//
//
// What `growc-run train` needs to run data-parallel (docs/training.md,
// "Data-parallel training"): starting its own ranks under mpirun for
// `--nproc N`, checking that every rank runs the same plan, options and
// weights, and how many threads a rank may use.
//
//===----------------------------------------------------------------------===//

#ifndef GROWC_RUNTIME_TOOLS_GROWC_RUN_DATAPARALLEL_H
#define GROWC_RUNTIME_TOOLS_GROWC_RUN_DATAPARALLEL_H

#include "growc/runtime/Collective.h"
#include "growc/runtime/Plan.h"
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

/// Whether `plan` has all_reduce steps (compiled by a growc that knows
/// data parallelism); every train plan of this growc has.
bool hasAllReduceSteps(const Plan &plan);

/// FNV-1a, 64 bits: a fingerprint of bytes, chained through `hash`.
uint64_t hashBytes(const void *data, size_t bytes,
                   uint64_t hash = 0xcbf29ce484222325ULL);
/// The bytes of the file at `path` chained into `hash`; an unreadable file
/// hashes its name only (loading it has already failed or will).
uint64_t hashFile(const std::string &path, uint64_t hash);

/// Every rank compares its `fingerprint` of `what` with rank 0's. Ok when
/// all agree; otherwise every rank returns an error (the differing ones
/// say so, rank 0 counts them), so that the job stops together.
Status agreeWithRankZero(Collective &collective, uint64_t fingerprint,
                         const std::string &what);

/// Threads for one rank's executor when --threads is not given:
/// GROWC_NUM_THREADS, else the cores shared by the ranks on this machine.
int threadsPerRank(const Collective &collective);

} // namespace growc::rt

#endif // GROWC_RUNTIME_TOOLS_GROWC_RUN_DATAPARALLEL_H

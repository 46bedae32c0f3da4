//===- Collective.h - Collectives for data-parallel training ----*- C++ -*-===//
//
// Data-parallel training runs one process (rank) per CPU socket or GPU, each
// with a full replica of the model and its own shard of every global batch;
// the ranks average their gradients before the optimizer uses them (the
// plan's all_reduce steps, docs/plan.md) and otherwise agree on nothing but
// the schedule. This header is the one interface every executor and the
// training loop talk to, with these engines behind it:
//
//   single  one process: every collective is the identity (no copies), so a
//           single-process run computes exactly what it computed before
//           data parallelism existed.
//   mpi     host memory over MPI (Debian's OpenMPI), for CPU runs started
//           by mpirun (growc-run train --nproc N starts one). Only where
//           CMake found MPI (GROWC_HAVE_MPI); otherwise asking for it is an
//           error that says so.
//   tcp     host memory over TCP sockets through rank 0 (a star): for CPU
//           runs started without mpirun, from the usual environment
//           variables (RANK, WORLD_SIZE, LOCAL_RANK, LOCAL_WORLD_SIZE,
//           MASTER_ADDR, MASTER_PORT), and the bootstrap of the NCCL engine.
//           Rank 0 sums in rank order, so every rank gets the same bits.
//   nccl    device memory over NCCL (NcclCollective.h; one process per GPU),
//           NCCL opened with dlopen.
//
// createCollective picks the engine from the environment (see
// CollectiveOptions). Every failure is a Status with a plain message; a
// rank that fails after the others started communicating calls abort(),
// which ends the whole job instead of leaving the others waiting forever.
//
//===----------------------------------------------------------------------===//

#ifndef GROWC_RUNTIME_COLLECTIVE_H
#define GROWC_RUNTIME_COLLECTIVE_H

#include "growc/runtime/Status.h"

#include <cstdint>
#include <memory>
#include <string>

namespace growc::rt {

/// How values of the ranks combine. Mean is the sum scaled by 1/size in
/// the element type (for two ranks exactly (a + b) / 2).
enum class ReduceOp { Sum, Mean };

enum class ElementType { F32, F64 };

class Collective {
public:
  virtual ~Collective();

  /// "single", "mpi", "tcp" or "nccl".
  virtual const char *engine() const = 0;
  /// This process's rank in [0, size()).
  virtual int rank() const = 0;
  virtual int size() const = 0;
  /// The ranks on this machine and this process's index among them: how
  /// many threads a rank may use, which GPU it drives.
  virtual int localRank() const = 0;
  virtual int localSize() const = 0;

  /// Replaces `count` elements of host memory at `data`, on every rank, by
  /// their reduction over the ranks. Every rank gets the same bits.
  virtual Status allReduce(void *data, int64_t count, ElementType type,
                           ReduceOp op) = 0;
  Status allReduce(float *data, int64_t count, ReduceOp op) {
    return allReduce(data, count, ElementType::F32, op);
  }
  Status allReduce(double *data, int64_t count, ReduceOp op) {
    return allReduce(data, count, ElementType::F64, op);
  }
  /// Copies `bytes` bytes of host memory at `data` from rank `root` to
  /// every other rank.
  virtual Status broadcast(void *data, int64_t bytes, int root) = 0;
  /// Returns once every rank has called it.
  virtual Status barrier() = 0;

  /// allReduce of F32 device memory, enqueued on `stream` (a CUstream) and
  /// not waited for. Only the NCCL engine has device memory; the others
  /// say so.
  virtual Status allReduceDevice(uint64_t data, int64_t count, ReduceOp op,
                                 void *stream);

  /// Ends the whole job with `code` (the other ranks too, where the engine
  /// can reach them). Does not return.
  [[noreturn]] virtual void abort(int code);
};

/// What createCollective builds.
struct CollectiveOptions {
  /// "single", "mpi", "tcp", "nccl", or "" / "auto": $GROWC_COLLECTIVE,
  /// else started by mpirun (OMPI_COMM_WORLD_SIZE, PMI_SIZE or
  /// PMIX_RANK in the environment) -> "mpi", else WORLD_SIZE > 1 -> "tcp",
  /// else "single".
  std::string engine;
  /// Seconds the tcp engine waits for its peers to appear
  /// ($GROWC_RENDEZVOUS_TIMEOUT overrides; default 300).
  double rendezvousTimeout = 300;
};

/// The engine the options and the environment ask for, started (MPI
/// initialized, sockets connected). Device-memory engines (NCCL) are
/// created with createNcclCollective (NcclCollective.h); asking this
/// function for "nccl" is an error that says so.
StatusOr<std::unique_ptr<Collective>>
createCollective(const CollectiveOptions &options = CollectiveOptions());

/// The one-process engine.
std::unique_ptr<Collective> singleProcessCollective();

/// Whether this growc-run was built with MPI.
bool haveMpi();

/// The world size an MPI launcher announced in the environment
/// (OMPI_COMM_WORLD_SIZE, PMI_SIZE), 0 when the process was not started by
/// one.
int mpiWorldSizeFromEnvironment();

/// The torchrun-style rendezvous of the tcp engine, read from the
/// environment: RANK, WORLD_SIZE, LOCAL_RANK, LOCAL_WORLD_SIZE (default:
/// WORLD_SIZE ranks on one machine), MASTER_ADDR (default 127.0.0.1),
/// MASTER_PORT (default 29500).
struct Rendezvous {
  int rank = 0;
  int size = 1;
  int localRank = 0;
  int localSize = 1;
  std::string masterAddress = "127.0.0.1";
  int masterPort = 29500;
  double timeoutSeconds = 300;
};
StatusOr<Rendezvous> rendezvousFromEnvironment(double timeoutSeconds);

/// The tcp engine over `rendezvous` (for tests and the NCCL bootstrap).
StatusOr<std::unique_ptr<Collective>>
createTcpCollective(const Rendezvous &rendezvous);

} // namespace growc::rt

#endif // GROWC_RUNTIME_COLLECTIVE_H

//===- NcclCollective.cpp - Collectives over NCCL (GPU memory) ------------===//

#include "growc/runtime/NcclCollective.h"

#include "growc/runtime/CudaLibraries.h"

#include <cstdlib>
#include <cstring>

namespace growc::rt {

namespace {

/// NCCL 2.10 added ncclAvg, which Mean uses.
constexpr int kMinNcclVersion = 21000;

class Nccl final : public Collective {
public:
  explicit Nccl(std::unique_ptr<Collective> bootstrap)
      : bootstrap_(std::move(bootstrap)) {}
  ~Nccl() override {
    // Teardown errors cannot be reported; the process is ending anyway.
    if (comm_)
      nccl_->ncclCommDestroy(comm_);
    if (context_)
      cu_->cuDevicePrimaryCtxRelease(device_);
  }

  /// This rank's part, before any communication: the driver, the GPU, its
  /// context (current on this thread from here on) and NCCL itself.
  Status setUpLocally(const NcclOptions &options);
  /// The collective part: the unique id from rank 0, the communicator.
  Status connect();

  using Collective::allReduce;
  const char *engine() const override { return "nccl"; }
  int rank() const override { return bootstrap_->rank(); }
  int size() const override { return bootstrap_->size(); }
  int localRank() const override { return bootstrap_->localRank(); }
  int localSize() const override { return bootstrap_->localSize(); }
  Status allReduce(void *data, int64_t count, ElementType type,
                   ReduceOp op) override {
    return bootstrap_->allReduce(data, count, type, op);
  }
  Status broadcast(void *data, int64_t bytes, int root) override {
    return bootstrap_->broadcast(data, bytes, root);
  }
  Status barrier() override { return bootstrap_->barrier(); }

  Status allReduceDevice(uint64_t data, int64_t count, ReduceOp op,
                         void *stream) override {
    if (count < 0)
      return Status::error("allReduceDevice: negative count");
    void *buffer = reinterpret_cast<void *>(data);
    return nccl_->check(
        nccl_->ncclAllReduce(buffer, buffer, size_t(count), ncclFloat32,
                             op == ReduceOp::Mean ? ncclAvg : ncclSum, comm_,
                             static_cast<cudaStream_t>(stream)),
        "ncclAllReduce");
  }

  [[noreturn]] void abort(int code) override {
    if (comm_)
      nccl_->ncclCommAbort(comm_);
    comm_ = nullptr;
    bootstrap_->abort(code);
    std::_Exit(code); // not reached: the bootstrap's abort ends the process
  }

private:
  std::unique_ptr<Collective> bootstrap_;
  std::shared_ptr<cuda::Driver> cu_;
  std::shared_ptr<cuda::Nccl> nccl_;
  CUdevice device_ = 0;
  CUcontext context_ = nullptr;
  ncclComm_t comm_ = nullptr;
};

#define GROWC_CU(call)                                                         \
  if (Status s_ = cu_->check(call, #call); !s_.isOk())                         \
    return s_;

Status Nccl::setUpLocally(const NcclOptions &options) {
  const std::string driverPath =
      cuda::libraryPath(options.driverPath, "GROWC_LIBCUDA");
  StatusOr<std::shared_ptr<cuda::Driver>> driver =
      cuda::Driver::load(driverPath.empty() ? "libcuda.so.1" : driverPath);
  if (!driver.isOk())
    return driver.status();
  cu_ = *driver;
  if (CUresult r = cu_->cuInit(0); r != CUDA_SUCCESS)
    return Status::error("no usable CUDA driver: " +
                         cu_->check(r, "cuInit").message());
  int count = 0;
  GROWC_CU(cu_->cuDeviceGetCount(&count));
  if (count == 0)
    return Status::error("no CUDA device on this machine (the nccl "
                         "collective engine needs one GPU per rank)");
  int ordinal = options.device >= 0 ? options.device : localRank();
  if (options.device < 0 && localSize() > count)
    return Status::error(
        std::to_string(localSize()) + " ranks on this machine but " +
        std::to_string(count) +
        " GPU(s): NCCL needs one GPU per rank (start fewer ranks)");
  if (ordinal >= count)
    return Status::error("CUDA device " + std::to_string(ordinal) +
                         " does not exist (" + std::to_string(count) +
                         " device(s))");
  GROWC_CU(cu_->cuDeviceGet(&device_, ordinal));
  GROWC_CU(cu_->cuDevicePrimaryCtxRetain(&context_, device_));
  GROWC_CU(cu_->cuCtxSetCurrent(context_));

  StatusOr<std::shared_ptr<cuda::Nccl>> nccl = cuda::Nccl::load(
      cuda::libraryPath(options.ncclPath, "GROWC_LIBNCCL").empty()
          ? "libnccl.so.2"
          : cuda::libraryPath(options.ncclPath, "GROWC_LIBNCCL"));
  if (!nccl.isOk())
    return Status::error(nccl.status().message() +
                         " (NCCL ships with the CUDA toolkit or as "
                         "libnccl2; growc-run opens it at run time)");
  nccl_ = *nccl;
  int version = 0;
  if (Status s =
          nccl_->check(nccl_->ncclGetVersion(&version), "ncclGetVersion");
      !s.isOk())
    return s;
  if (version < kMinNcclVersion)
    return Status::error(nccl_->library->name() + " is NCCL version code " +
                         std::to_string(version) +
                         "; growc needs 2.10 or newer (ncclAvg)");
  return Status::ok();
}

Status Nccl::connect() {
  // Rank 0 makes the id and tells everyone whether that worked, so that a
  // failure there does not leave the others in ncclCommInitRank.
  struct {
    int32_t ok;
    ncclUniqueId id;
  } offer;
  std::memset(&offer, 0, sizeof offer);
  Status made;
  if (rank() == 0) {
    made = nccl_->check(nccl_->ncclGetUniqueId(&offer.id), "ncclGetUniqueId");
    offer.ok = made.isOk();
  }
  if (Status s = bootstrap_->broadcast(&offer, sizeof offer, 0); !s.isOk())
    return s;
  if (!offer.ok)
    return rank() == 0 ? made
                       : Status::error("rank 0 could not make NCCL's unique "
                                       "id (its message says why)");
  return nccl_->check(nccl_->ncclCommInitRank(&comm_, size(), offer.id, rank()),
                      "ncclCommInitRank");
}

} // namespace

StatusOr<std::unique_ptr<Collective>>
createNcclCollective(std::unique_ptr<Collective> bootstrap,
                     const NcclOptions &options) {
  if (!bootstrap)
    return Status::error("the nccl engine needs a bootstrap collective");
  auto engine = std::make_unique<Nccl>(std::move(bootstrap));
  Status local = engine->setUpLocally(options);
  // Everyone learns whether everyone is ready before anyone enters NCCL's
  // own (blocking) rendezvous.
  double failed = local.isOk() ? 0 : 1;
  if (Status s = engine->allReduce(&failed, 1, ReduceOp::Sum); !s.isOk())
    return s;
  if (!local.isOk())
    return local;
  if (failed > 0)
    return Status::error("NCCL could not be set up on " +
                         std::to_string(int(failed)) +
                         " other rank(s); their messages say why");
  if (Status s = engine->connect(); !s.isOk())
    return s;
  return std::unique_ptr<Collective>(std::move(engine));
}

} // namespace growc::rt

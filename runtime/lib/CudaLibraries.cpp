//===- CudaLibraries.cpp - libcuda, cuBLASLt and NCCL through dlopen ------===//

#include "growc/runtime/CudaLibraries.h"

#include <cstdlib>

#include <dlfcn.h>

#include <string>
#include <vector>

using namespace growc::rt;
using namespace growc::rt::cuda;

// The ABI name of an entry point: cuda.h's macros (cuMemAlloc ->
// cuMemAlloc_v2) expanded, then stringified.
#define GROWC_STRINGIFY(x) #x
#define GROWC_ABI_NAME(x) GROWC_STRINGIFY(x)

StatusOr<std::shared_ptr<Library>> Library::open(const std::string &name,
                                                 const std::string &what) {
  void *handle = ::dlopen(name.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (!handle) {
    const char *err = ::dlerror();
    return Status::error("cannot load " + what + " (" + name +
                         "): " + (err ? err : "unknown dlopen error"));
  }
  return std::shared_ptr<Library>(new Library(handle, name));
}

Library::~Library() { ::dlclose(handle_); }

StatusOr<void *> Library::symbol(const char *name) const {
  ::dlerror();
  void *address = ::dlsym(handle_, name);
  if (!address)
    return Status::error(name_ + " has no symbol " + name +
                         " (a library older than this runtime needs?)");
  return address;
}

namespace {

/// Resolves `table.<member>` from `table.library` by the member's ABI name.
template <typename Fn>
Status resolve(const Library &library, const char *abiName, Fn &out) {
  StatusOr<void *> address = library.symbol(abiName);
  if (!address.isOk())
    return address.status();
  out = reinterpret_cast<Fn>(*address);
  return Status::ok();
}

#define GROWC_RESOLVE(name)                                                    \
  if (Status s = resolve(*table->library, GROWC_ABI_NAME(name), table->name);  \
      !s.isOk())                                                               \
    return s;

} // namespace

StatusOr<std::shared_ptr<Driver>> Driver::load(const std::string &path) {
  auto table = std::make_shared<Driver>();
  StatusOr<std::shared_ptr<Library>> library =
      Library::open(path, "the CUDA driver");
  if (!library.isOk())
    return Status::error(library.status().message() +
                         "; is the NVIDIA driver installed? (--device=cpu "
                         "runs on the CPU)");
  table->library = *library;
  GROWC_CUDA_DRIVER_FUNCTIONS(GROWC_RESOLVE)
  return table;
}

/// The library function a checked call names: "cuLaunchKernel" for the
/// macro-stringified "cu->cuLaunchKernel(l.fn, ...)", so that messages
/// stay one readable line.
static std::string callName(const char *call) {
  std::string text = call;
  text = text.substr(0, text.find('('));
  if (size_t arrow = text.rfind("->"); arrow != std::string::npos)
    text = text.substr(arrow + 2);
  return text;
}

Status Driver::check(CUresult result, const char *call) const {
  if (result == CUDA_SUCCESS)
    return Status::ok();
  const char *name = nullptr, *text = nullptr;
  if (cuGetErrorName && cuGetErrorName(result, &name) != CUDA_SUCCESS)
    name = nullptr;
  if (cuGetErrorString && cuGetErrorString(result, &text) != CUDA_SUCCESS)
    text = nullptr;
  // The errors of a machine without a working driver, named even when the
  // library cannot name them (the toolkit's stub cannot).
  if (!name && result == CUDA_ERROR_STUB_LIBRARY) {
    name = "CUDA_ERROR_STUB_LIBRARY";
    text = "this libcuda is the CUDA toolkit's link stub, not a driver";
  } else if (!name && result == CUDA_ERROR_NO_DEVICE) {
    name = "CUDA_ERROR_NO_DEVICE";
  }
  return Status::error(callName(call) + ": " +
                       (name ? name : "CUDA error " + std::to_string(result)) +
                       (text ? std::string(" (") + text + ")" : ""));
}

std::string growc::rt::cuda::libraryPath(const std::string &configured,
                                         const char *variable) {
  if (!configured.empty())
    return configured;
  const char *value = std::getenv(variable);
  return value ? std::string(value) : std::string();
}

StatusOr<std::shared_ptr<BlasLt>> BlasLt::load(const std::string &path) {
  auto table = std::make_shared<BlasLt>();
  std::string tried;
  for (const std::string &name :
       path.empty()
           ? std::vector<std::string>{"libcublasLt.so.13", "libcublasLt.so.12",
                                      "libcublasLt.so"}
           : std::vector<std::string>{path}) {
    StatusOr<std::shared_ptr<Library>> library =
        Library::open(name, "cuBLASLt");
    if (library.isOk()) {
      table->library = *library;
      break;
    }
    tried += (tried.empty() ? "" : "; ") + library.status().message();
  }
  if (!table->library)
    return Status::error(tried);
  GROWC_CUBLASLT_FUNCTIONS(GROWC_RESOLVE)
  return table;
}

Status BlasLt::check(cublasStatus_t status, const char *call) const {
  if (status == CUBLAS_STATUS_SUCCESS)
    return Status::ok();
  const char *text =
      cublasLtGetStatusString ? cublasLtGetStatusString(status) : nullptr;
  return Status::error(
      callName(call) + ": " +
      (text ? text : "cuBLAS status " + std::to_string(int(status))));
}

StatusOr<std::shared_ptr<Nccl>> Nccl::load(const std::string &path) {
  auto table = std::make_shared<Nccl>();
  StatusOr<std::shared_ptr<Library>> library = Library::open(path, "NCCL");
  if (!library.isOk())
    return library.status();
  table->library = *library;
  GROWC_NCCL_FUNCTIONS(GROWC_RESOLVE)
  return table;
}

Status Nccl::check(ncclResult_t result, const char *call) const {
  if (result == ncclSuccess)
    return Status::ok();
  const char *text = ncclGetErrorString ? ncclGetErrorString(result) : nullptr;
  return Status::error(
      callName(call) + ": " +
      (text ? text : "NCCL error " + std::to_string(int(result))));
}

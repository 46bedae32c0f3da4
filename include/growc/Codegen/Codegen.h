//===- Codegen.h - from a grow.model to an executable artifact --*- C++ -*-===//
//
// What follows the kernel pipeline (growc/Pipelines.h): plan emission and
// the two backends, CPU (kernels -> LLVM -> native shared object) and NVPTX
// (kernels -> GPU launches -> PTX). The artifact is the kernels file plus
// the JSON plan of docs/plan.md.
//
//===----------------------------------------------------------------------===//

#ifndef GROWC_CODEGEN_CODEGEN_H
#define GROWC_CODEGEN_CODEGEN_H

#include "growc/runtime/Plan.h"

#include "mlir/IR/BuiltinOps.h"
#include "llvm/ADT/StringMap.h"
#include "llvm/Support/Error.h"

#include <string>
#include <vector>

namespace growc {

/// Reads the bufferized host function of `module` (the function with
/// `growc.param_names`) into a plan, assigns arena offsets by liveness,
/// erases the host function and leaves only the kernels. `kernelsFile` is
/// recorded in the plan. A train graph's gradients are all-reduced in
/// buckets of at most `allReduceBucketBytes` (PyTorch DDP's default 25 MiB).
/// The plan is the runtime's own type (one schema for both sides); its
/// kernels still lack their block counts (CPU) or launches (PTX), which the
/// backends provide.
llvm::Expected<rt::Plan> emitPlan(mlir::ModuleOp module, llvm::StringRef target,
                                  llvm::StringRef kernelsFile,
                                  int64_t allReduceBucketBytes = int64_t(25)
                                                                 << 20);

/// Lowers the kernel functions of `module` to the LLVM dialect and adds
/// `<kernel>_packed(void **args, int64_t begin, int64_t end)` entry points.
/// A kernel that is one scf.forall runs blocks (iterations) [begin, end) of
/// it; the result maps each kernel to its block count (1 when the kernel
/// cannot be split).
mlir::FailureOr<llvm::StringMap<int64_t>>
lowerKernelsToLLVM(mlir::ModuleOp module);

/// Adds the kernels file's signature table `table` (rt::serializeKernelTable
/// of the plan's completed kernel entries) to the LLVM-dialect `module` as
/// the exported, NUL-terminated constant rt::kKernelSignaturesSymbol.
void embedKernelSignatures(mlir::ModuleOp module, llvm::StringRef table);

/// Compiles an LLVM-dialect `module` for the host CPU at -O3 and links it
/// into the shared object `path` (a temporary of the caller's ArtifactSet:
/// on failure it may hold a partial file). The intermediate object file and
/// the linker's messages live in temporaries that are always removed; an
/// error names `path` and the reason.
llvm::Error writeCpuSharedObject(mlir::ModuleOp module, llvm::StringRef path);

struct PtxOptions {
  /// The GPU and PTX ISA the PTX is written for.
  std::string chip = "sm_90";
  std::string features = "+ptx81";
  /// libdevice.10.bc; empty: $CUDA_HOME, $CUDA_PATH, /usr/local/cuda.
  std::string libdevicePath;
};

/// How the runtime launches one kernel: its PTX entry (named like the
/// kernel), grid and block sizes, and which of the kernel's buffers are its
/// parameters, in order (one device pointer each).
struct GpuLaunch {
  std::string name;
  /// "attention" for the attention kernels (growc.kernel_kind), else empty.
  std::string kind;
  /// Dynamic shared memory the launch needs (per-block buffers beyond the
  /// 48 KiB of static shared memory), 0 for none.
  int64_t dynamicSharedBytes = 0;
  int64_t grid[3] = {1, 1, 1};
  int64_t block[3] = {1, 1, 1};
  llvm::SmallVector<unsigned> params;
};

struct PtxArtifact {
  std::string ptx;
  std::vector<GpuLaunch> launches;
};

/// Maps the distributed kernels of `module` (growc-distribute-kernels) to
/// GPU launches and compiles them to one PTX module; consumes the kernels.
llvm::Expected<PtxArtifact> compileKernelsToPtx(mlir::ModuleOp module,
                                                const PtxOptions &options);

/// Appends the kernel library's entry points that `plan` launches to the
/// PTX module `ptx` (lib/Codegen/Kernels: the tensor-core attention for
/// `attention` and `attention_grad` steps, the flat AdamW for an `adamw`
/// step); fails if the library was built for another target or PTX ISA.
llvm::Error linkKernelLibrary(const rt::Plan &plan, std::string &ptx);

} // namespace growc

#endif // GROWC_CODEGEN_CODEGEN_H

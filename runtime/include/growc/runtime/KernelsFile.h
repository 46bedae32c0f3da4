//===- KernelsFile.h - A plan bound to its kernels file ---------*- C++ -*-===//
//
// A plan runs only with the kernels file it was compiled with. Two things
// tie them together (docs/plan.md, "The kernels file"):
//
//  - the plan's `kernels_hash`, the content hash of the kernels file as
//    growc wrote it: a file copied over from another compile (another
//    batch size, another model) or left by a crashed compile is refused;
//  - the kernels file's signature table, the plan's kernel entries as
//    compiled (serializeKernelTable): a plan edited to describe a kernel
//    differently (a shape, a block count, a launch) is refused, naming the
//    kernel and the field.
//
// A CPU shared object exports the table as the NUL-terminated string
// `growc_kernel_signatures`; PTX carries it as one comment line
// "// growc.kernel_signatures <json>". Both executors check a kernels file
// here, before they run anything from it.
//
//===----------------------------------------------------------------------===//

#ifndef GROWC_RUNTIME_KERNELSFILE_H
#define GROWC_RUNTIME_KERNELSFILE_H

#include "growc/runtime/Plan.h"
#include "growc/runtime/Status.h"

#include <string>
#include <string_view>

namespace growc::rt {

/// The data symbol of a CPU kernels file holding its signature table.
inline constexpr const char *kKernelSignaturesSymbol =
    "growc_kernel_signatures";

/// The start of the PTX comment line holding the signature table (the JSON
/// follows it up to the end of the line).
inline constexpr std::string_view kPtxSignaturesPrefix =
    "// growc.kernel_signatures ";

/// The PTX comment line for `table` (serializeKernelTable), with its newline.
std::string ptxSignatureLine(std::string_view table);

/// Checks that `actualHash` (the content hash of plan.kernelsPath) is the
/// one the plan was compiled with; the error names both files and hashes.
Status checkKernelsHash(const Plan &plan, const std::string &actualHash);

/// Hashes plan.kernelsPath and checks it (checkKernelsHash).
Status checkKernelsFileHash(const Plan &plan);

/// The signature table of a PTX text, or an error naming the plan's kernels
/// file when the comment line is missing.
StatusOr<std::string_view> findPtxSignatureTable(const Plan &plan,
                                                 std::string_view ptx);

/// Checks every kernel of `plan` against the entry of the same symbol in the
/// kernels file's signature table `table`, field by field: name, arguments
/// (dtype and shape), blocks (CPU), launch grid, block, params and
/// shared_bytes (PTX) and kind. The error names the kernel and the field.
Status checkKernelSignatures(const Plan &plan, std::string_view table);

} // namespace growc::rt

#endif // GROWC_RUNTIME_KERNELSFILE_H

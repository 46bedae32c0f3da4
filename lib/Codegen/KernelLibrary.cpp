//===- KernelLibrary.cpp - hand-written kernels linked into artifacts -----===//
//
// Some kernels are written by hand rather than generated: the tensor-core
// FlashAttention of Kernels/FlashAttention.cu and the flat AdamW step of
// Kernels/Optimizer.cu (each compiled to PTX by clang at build time and
// embedded here). An artifact whose plan launches one (an `attention` or
// `attention_grad` step, an `adamw` step) carries that part's entry points
// in its PTX module, after the generated kernels; the library uses the
// same target, PTX ISA and address size, which is checked, and its symbols
// start with `growc_`, which generated kernels' names (`kernelN...`) never
// do.
//
//===----------------------------------------------------------------------===//

#include "growc/Codegen/Codegen.h"

#include "llvm/ADT/STLExtras.h"
#include "llvm/ADT/StringRef.h"
#include "llvm/Support/Error.h"

using namespace growc;

namespace {

const char kFlashAttentionPtx[] =
#include "FlashAttentionPtx.inc"
    ;
const char kOptimizerPtx[] =
#include "OptimizerPtx.inc"
    ;

/// The module header lines (.version, .target, .address_size) of `ptx`.
std::string headerOf(llvm::StringRef ptx) {
  std::string header;
  for (const char *directive : {".version", ".target", ".address_size"}) {
    size_t at = ptx.find(std::string("\n") + directive);
    if (at == llvm::StringRef::npos)
      return "";
    header += ptx.substr(at + 1, ptx.find('\n', at + 1) - at - 1).str() + "\n";
  }
  return header;
}

/// Appends the body of the library part `library` (its PTX after the
/// module header) to `ptx`.
llvm::Error append(llvm::StringRef library, llvm::StringRef what,
                   std::string &ptx) {
  std::string header = headerOf(library);
  if (header.empty() || header != headerOf(ptx))
    return llvm::createStringError(
        "the kernel library's PTX (" + what + ") is for\n" + header +
        "but the generated kernels are for\n" + headerOf(ptx) +
        "(the kernel library is built for sm_90, PTX 8.0: compile with the "
        "default --gpu-chip and --ptx-features)");
  size_t body = library.find(".address_size");
  body = library.find('\n', body);
  ptx += "\n// The kernel library (lib/Codegen/Kernels): " + what.str() + ".\n";
  ptx += library.substr(body + 1).str();
  return llvm::Error::success();
}

bool hasStep(const rt::Plan &plan,
             std::initializer_list<rt::PlanStep::Op> ops) {
  return llvm::any_of(plan.steps, [&](const rt::PlanStep &s) {
    return llvm::is_contained(ops, s.op);
  });
}

} // namespace

llvm::Error growc::linkKernelLibrary(const rt::Plan &plan, std::string &ptx) {
  using Op = rt::PlanStep::Op;
  if (hasStep(plan, {Op::Attention, Op::AttentionGrad}))
    if (llvm::Error err =
            append(kFlashAttentionPtx, "tensor-core FlashAttention", ptx))
      return err;
  if (hasStep(plan, {Op::AdamW}))
    if (llvm::Error err = append(kOptimizerPtx, "the flat AdamW step", ptx))
      return err;
  return llvm::Error::success();
}

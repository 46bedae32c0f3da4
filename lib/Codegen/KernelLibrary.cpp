//===- KernelLibrary.cpp - hand-written kernels linked into artifacts -----===//
//
// Some kernels are written by hand rather than generated: the tensor-core
// FlashAttention of Kernels/FlashAttention.cu and the flat AdamW step of
// Kernels/Optimizer.cu (each compiled to PTX by clang at build time and
// embedded here). An artifact whose plan launches one (an `attention` or
// `attention_grad` step, an `adamw` step) carries that part's entry points
// in its PTX module, after the generated kernels (of the attention, only
// the instances its steps name); the library uses the
// same target and address size, which is checked, and its symbols start
// with `growc_`, which generated kernels' names (`kernelN...`) never do.
// Its PTX ISA (8.1, for the attention backward's red.global.add.v2.f32)
// is the generated kernels' default (--ptx-features=+ptx81); a newer one
// asked for stays (no ISA since 7.8 changed an instruction's meaning on
// sm_90), an older one is an error, since the module would declare an ISA
// without the library's instructions.
//
//===----------------------------------------------------------------------===//

#include "growc/Codegen/Codegen.h"

#include "llvm/ADT/STLExtras.h"
#include "llvm/ADT/StringRef.h"
#include "llvm/ADT/StringSet.h"
#include "llvm/Support/Error.h"
#include "llvm/Support/FormatVariadic.h"

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

/// The `.version` of a module header as major * 10 + minor (8.1: 81), or
/// -1 where it is not one.
int isaVersion(llvm::StringRef header) {
  unsigned major, minor;
  llvm::StringRef version = header.split('\n').first;
  if (!version.consume_front(".version "))
    return -1;
  auto [high, low] = version.trim().split('.');
  if (high.getAsInteger(10, major) || low.getAsInteger(10, minor) || minor > 9)
    return -1;
  return int(major * 10 + minor);
}

/// `body` (PTX after the module header) without the entry points that
/// `keep` rejects: each runs from its `// .globl NAME` line to the `}`
/// that closes it (clang emits every entry self-contained: its static
/// shared tiles are demoted into it and device functions are inlined).
/// Text outside entries stays, and so do module-scope declarations that
/// fall inside a dropped one's lines: the attention's dynamic shared
/// memory (`.extern .shared ... growc_flash_shared[]`) is declared once,
/// before the first entry that uses it.
std::string selectEntries(llvm::StringRef body,
                          llvm::function_ref<bool(llvm::StringRef)> keep) {
  std::string kept;
  bool dropping = false;
  for (llvm::StringRef rest = body; !rest.empty();) {
    auto [line, next] = rest.split('\n');
    llvm::StringRef trimmed = line.trim();
    if (trimmed.consume_front("// .globl"))
      dropping = !keep(trimmed.trim().split(' ').first.trim());
    if (!dropping || line.starts_with(".extern "))
      kept += (line + "\n").str();
    else if (line == "}")
      dropping = false;
    rest = next;
  }
  return kept;
}

/// Appends the body of the library part `library` (its PTX after the
/// module header), with the entry points `keep` accepts, to `ptx`.
llvm::Error append(llvm::StringRef library, llvm::StringRef what,
                   llvm::function_ref<bool(llvm::StringRef)> keep,
                   std::string &ptx) {
  std::string header = headerOf(library), own = headerOf(ptx);
  llvm::StringRef target = llvm::StringRef(header).split('\n').second;
  int version = isaVersion(header), ownVersion = isaVersion(own);
  if (version < 0 || ownVersion < 0 ||
      target != llvm::StringRef(own).split('\n').second)
    return llvm::createStringError(
        "the kernel library's PTX (" + what + ") is for\n" + header +
        "but the generated kernels are for\n" + own +
        "(the kernel library is built for sm_90 and 64-bit addresses: "
        "compile with the default --gpu-chip)");
  // A module cannot declare an ISA older than an instruction it holds (a
  // driver that reads it would refuse the library's instructions); the
  // default --ptx-features is the library's ISA, so only an explicit older
  // one gets here.
  if (version > ownVersion)
    return llvm::createStringError(
        llvm::formatv("the kernel library's PTX ({0}) needs PTX ISA {1}.{2}, "
                      "but the generated kernels are for ISA {3}.{4} "
                      "(--ptx-features): ask for +ptx{1}{2} or newer",
                      what, version / 10, version % 10, ownVersion / 10,
                      ownVersion % 10)
            .str());
  size_t body = library.find(".address_size");
  body = library.find('\n', body);
  ptx += "\n// The kernel library (lib/Codegen/Kernels): " + what.str() + ".\n";
  ptx += selectEntries(library.substr(body + 1), keep);
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
  // Attention: the instances the plan's steps name, each once (27 in the
  // library, about 40 KB of PTX each, which every load would parse).
  llvm::StringSet<> used;
  for (const rt::PlanStep &step : plan.steps)
    if (step.op == Op::Attention || step.op == Op::AttentionGrad)
      for (const std::string &symbol : step.symbols) {
        if (!llvm::StringRef(kFlashAttentionPtx)
                 .contains(".entry " + symbol + "("))
          return llvm::createStringError(
              "the kernel library has no attention entry point '" + symbol +
              "'");
        used.insert(symbol);
      }
  if (!used.empty())
    if (llvm::Error err = append(
            kFlashAttentionPtx, "tensor-core FlashAttention",
            [&](llvm::StringRef name) { return used.contains(name); }, ptx))
      return err;
  if (hasStep(plan, {Op::AdamW}))
    if (llvm::Error err = append(
            kOptimizerPtx, "the flat AdamW step",
            [](llvm::StringRef) { return true; }, ptx))
      return err;
  return llvm::Error::success();
}

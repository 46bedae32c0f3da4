//===- CpuBackend.cpp - kernels to a native shared object -----------------===//
//
// Kernels are lowered with upstream passes to the LLVM dialect, given a
// uniform `void <kernel>_packed(void **args)` entry for the runtime (it
// builds each memref descriptor from the buffer address and the static
// shape, so the runtime passes plain pointers), translated to LLVM IR,
// optimised at -O3 for the host CPU (whose SIMD width the loop vectoriser then
// uses), emitted as an object and linked into a shared object by the system
// compiler driver. The shared object also exports the kernels' signature
// table (growc_kernel_signatures), which the runtime checks its plan
// against.
//
//===----------------------------------------------------------------------===//

#include "growc/AttrNames.h"
#include "growc/Codegen/Codegen.h"
#include "growc/Pipelines.h"
#include "growc/runtime/KernelsFile.h"

#include "passes/Lowering/Passes.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Arith/Transforms/Passes.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/Math/Transforms/Passes.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/ExecutionEngine/OptUtils.h"
#include "mlir/IR/BuiltinTypes.h"
#include "mlir/IR/IRMapping.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Target/LLVMIR/Dialect/Builtin/BuiltinToLLVMIRTranslation.h"
#include "mlir/Target/LLVMIR/Dialect/LLVMIR/LLVMToLLVMIRTranslation.h"
#include "mlir/Target/LLVMIR/Export.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"
#include "llvm/IR/LegacyPassManager.h"
#include "llvm/IR/Module.h"
#include "llvm/MC/TargetRegistry.h"
#include "llvm/Passes/PassBuilder.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/Program.h"
#include "llvm/Support/Signals.h"
#include "llvm/Support/TargetSelect.h"
#include "llvm/Support/raw_ostream.h"
#include "llvm/Target/TargetMachine.h"
#include "llvm/Target/TargetOptions.h"
#include "llvm/TargetParser/Host.h"

using namespace mlir;
using namespace growc;

namespace {

llvm::Error fail(const llvm::Twine &message) {
  return llvm::createStringError(llvm::inconvertibleErrorCode(),
                                 "cpu backend: " + message);
}

/// LLVM's -O3 pipeline for the kernels, with one change: loops are not
/// unrolled before the loop vectoriser sees them. The kernels' innermost
/// loops run along a contiguous row of a static length (a head dimension
/// of 16, say); fully unrolled first, the vectoriser would vectorise the
/// next loop out across rows instead, with gathers and scatters. The
/// vectoriser still interleaves the loops it vectorises.
void optimizeKernels(llvm::Module &module, llvm::TargetMachine &machine) {
  llvm::LoopAnalysisManager loops;
  llvm::FunctionAnalysisManager functions;
  llvm::CGSCCAnalysisManager cgscc;
  llvm::ModuleAnalysisManager modules;
  llvm::PipelineTuningOptions tuning;
  tuning.LoopUnrolling = false;
  tuning.LoopInterleaving = true;
  tuning.LoopVectorization = true;
  tuning.SLPVectorization = true;
  llvm::PassBuilder builder(&machine, tuning);
  builder.registerModuleAnalyses(modules);
  builder.registerCGSCCAnalyses(cgscc);
  builder.registerFunctionAnalyses(functions);
  builder.registerLoopAnalyses(loops);
  builder.crossRegisterProxies(loops, functions, cgscc, modules);
  builder.buildPerModuleDefaultPipeline(llvm::OptimizationLevel::O3)
      .run(module, modules);
}

/// Adds `void <name>_packed(void **args, int64_t begin, int64_t end)`
/// calling `<name>` with, for each memref argument of static type
/// `types[i]`, the expanded descriptor (allocated = aligned = args[i],
/// offset 0, sizes, row-major strides), then the block range.
void addPackedEntry(OpBuilder &builder, LLVM::LLVMFuncOp kernel,
                    ArrayRef<MemRefType> types) {
  MLIRContext *ctx = builder.getContext();
  Location loc = kernel.getLoc();
  auto ptr = LLVM::LLVMPointerType::get(ctx);
  auto i64 = builder.getI64Type();
  auto type = LLVM::LLVMFunctionType::get(LLVM::LLVMVoidType::get(ctx),
                                          {ptr, i64, i64});
  auto packed = LLVM::LLVMFuncOp::create(
      builder, loc, (kernel.getName() + "_packed").str(), type);
  Block *entry = packed.addEntryBlock(builder);
  OpBuilder::InsertionGuard guard(builder);
  builder.setInsertionPointToStart(entry);
  auto constant = [&](int64_t value) -> Value {
    return LLVM::ConstantOp::create(builder, loc, i64,
                                    builder.getI64IntegerAttr(value));
  };
  SmallVector<Value> args;
  for (auto [i, memref] : llvm::enumerate(types)) {
    Value slot =
        LLVM::GEPOp::create(builder, loc, ptr, ptr, entry->getArgument(0),
                            ArrayRef<LLVM::GEPArg>{int32_t(i)});
    Value base = LLVM::LoadOp::create(builder, loc, ptr, slot);
    args.append({base, base, constant(0)});
    ArrayRef<int64_t> shape = memref.getShape();
    SmallVector<int64_t> strides(shape.size(), 1);
    for (int64_t d = int64_t(shape.size()) - 2; d >= 0; --d)
      strides[d] = strides[d + 1] * shape[d + 1];
    for (int64_t size : shape)
      args.push_back(constant(size));
    for (int64_t stride : strides)
      args.push_back(constant(stride));
  }
  args.append({entry->getArgument(1), entry->getArgument(2)});
  LLVM::CallOp::create(builder, loc, kernel, args);
  LLVM::ReturnOp::create(builder, loc, ValueRange{});
}

/// Whether `kernel` is one scf.forall with constants and views around it:
/// then its iterations are the kernel's blocks.
scf::ForallOp blockLoopOf(func::FuncOp kernel) {
  scf::ForallOp loop;
  for (Operation &op : kernel.getBody().front()) {
    if (auto forall = dyn_cast<scf::ForallOp>(op)) {
      if (loop || !forall.getOutputs().empty())
        return {};
      loop = forall;
      continue;
    }
    if (!isa<arith::ConstantOp, memref::ExpandShapeOp, memref::CollapseShapeOp,
             func::ReturnOp>(op))
      return {};
  }
  if (!loop)
    return {};
  for (auto bounds : {loop.getMixedLowerBound(), loop.getMixedUpperBound(),
                      loop.getMixedStep()})
    for (OpFoldResult bound : bounds)
      if (!getConstantIntValue(bound))
        return {};
  return loop;
}

/// Gives `kernel` trailing `begin, end` index arguments and returns its
/// block count: a kernel that is one scf.forall runs the iterations
/// [begin, end) of it (row-major over its dimensions), so the runtime can
/// split them over threads; any other kernel is one block and ignores them.
int64_t addBlockRange(func::FuncOp kernel) {
  OpBuilder b(kernel.getContext());
  Location loc = kernel.getLoc();
  Type index = b.getIndexType();
  unsigned n = kernel.getNumArguments();
  if (failed(
          kernel.insertArguments({n, n}, {index, index}, {{}, {}}, {loc, loc})))
    return -1;
  scf::ForallOp loop = blockLoopOf(kernel);
  if (!loop)
    return 1;
  SmallVector<int64_t> lbs, steps, counts;
  int64_t blocks = 1;
  for (auto [lb, ub, step] :
       llvm::zip(loop.getMixedLowerBound(), loop.getMixedUpperBound(),
                 loop.getMixedStep())) {
    lbs.push_back(*getConstantIntValue(lb));
    steps.push_back(*getConstantIntValue(step));
    counts.push_back(
        llvm::divideCeil(*getConstantIntValue(ub) - lbs.back(), steps.back()));
    blocks *= counts.back();
  }
  b.setInsertionPoint(loop);
  auto cst = [&](OpBuilder &nb, int64_t v) -> Value {
    return arith::ConstantIndexOp::create(nb, loc, v);
  };
  auto blockLoop = scf::ForOp::create(b, loc, kernel.getArgument(n),
                                      kernel.getArgument(n + 1), cst(b, 1));
  OpBuilder nb = OpBuilder::atBlockBegin(blockLoop.getBody());
  IRMapping mapping;
  Value rest = blockLoop.getInductionVar();
  for (int64_t d = int64_t(counts.size()) - 1; d >= 0; --d) {
    Value idx = d == 0
                    ? rest
                    : arith::RemUIOp::create(nb, loc, rest, cst(nb, counts[d]))
                          .getResult();
    if (d > 0)
      rest = arith::DivUIOp::create(nb, loc, rest, cst(nb, counts[d]));
    Value iv = arith::AddIOp::create(
        nb, loc, cst(nb, lbs[d]),
        arith::MulIOp::create(nb, loc, idx, cst(nb, steps[d])));
    mapping.map(loop.getInductionVar(d), iv);
  }
  for (Operation &op : loop.getBody()->without_terminator())
    nb.clone(op, mapping);
  loop.erase();
  return blocks;
}

/// bf16 values only cross memory as bits: after the expansion above every
/// bf16 load is bitcast to i16 and every stored bf16 was bitcast from i16.
/// Without native bf16 (most x86), LLVM keeps a bf16 value in an f32
/// register, so a load or store of `bfloat` costs a conversion that LLVM
/// 22 emits as a call to __truncsfbf2, which Debian's libgcc lacks (the
/// kernels would not load). Loading and storing the i16 instead moves the
/// same bytes with no conversion.
void storeBFloat16AsBits(ModuleOp module) {
  auto isBF16 = [](Type type) { return getElementTypeOrSelf(type).isBF16(); };
  SmallVector<LLVM::LoadOp> loads;
  SmallVector<LLVM::StoreOp> stores;
  module.walk([&](Operation *op) {
    if (auto load = dyn_cast<LLVM::LoadOp>(op); load && isBF16(load.getType()))
      loads.push_back(load);
    if (auto store = dyn_cast<LLVM::StoreOp>(op);
        store && isBF16(store.getValue().getType()))
      stores.push_back(store);
  });
  for (LLVM::StoreOp store : stores) {
    auto cast = store.getValue().getDefiningOp<LLVM::BitcastOp>();
    if (!cast || isBF16(cast.getArg().getType()))
      continue;
    store.getValueMutable().assign(cast.getArg());
    if (cast->use_empty())
      cast->erase();
  }
  for (LLVM::LoadOp load : loads) {
    if (load->use_empty() || !llvm::all_of(load->getUsers(), [](Operation *u) {
          return isa<LLVM::BitcastOp>(u);
        }))
      continue;
    Type bits = cast<LLVM::BitcastOp>(*load->getUsers().begin()).getType();
    if (!llvm::all_of(load->getUsers(), [&](Operation *u) {
          return u->getResultTypes()[0] == bits;
        }))
      continue;
    OpBuilder b(load);
    auto wide = LLVM::LoadOp::create(
        b, load.getLoc(), bits, load.getAddr(), load.getAlignment().value_or(0),
        load.getVolatile_(), load.getNontemporal());
    for (Operation *user : llvm::to_vector(load->getUsers())) {
      user->getResult(0).replaceAllUsesWith(wide.getResult());
      user->erase();
    }
    load.erase();
  }
}

/// A temporary file removed when this goes out of scope or the process
/// is interrupted.
class TemporaryFile {
public:
  explicit TemporaryFile(llvm::StringRef path) : path(path.str()) {
    llvm::sys::RemoveFileOnSignal(path);
  }
  ~TemporaryFile() {
    llvm::sys::fs::remove(path);
    llvm::sys::DontRemoveFileOnSignal(path);
  }

private:
  std::string path;
};

} // namespace

void growc::embedKernelSignatures(ModuleOp module, llvm::StringRef table) {
  OpBuilder builder = OpBuilder::atBlockEnd(module.getBody());
  std::string text = table.str();
  text.push_back('\0');
  auto type = LLVM::LLVMArrayType::get(builder.getI8Type(), text.size());
  // External linkage and default visibility: the runtime finds it with
  // dlsym (rt::kKernelSignaturesSymbol).
  LLVM::GlobalOp::create(builder, module.getLoc(), type, /*isConstant=*/true,
                         LLVM::Linkage::External, rt::kKernelSignaturesSymbol,
                         builder.getStringAttr(text));
}

FailureOr<llvm::StringMap<int64_t>> growc::lowerKernelsToLLVM(ModuleOp module) {
  SmallVector<std::pair<std::string, SmallVector<MemRefType>>> kernels;
  for (auto func : module.getOps<func::FuncOp>()) {
    if (!func->hasAttr(attr::kKernel))
      return func.emitOpError("only kernels may be left for the CPU backend");
    SmallVector<MemRefType> types;
    for (Type type : func.getArgumentTypes()) {
      auto memref = dyn_cast<MemRefType>(type);
      if (!memref || !memref.hasStaticShape() ||
          !memref.getLayout().isIdentity())
        return func.emitOpError("kernel arguments must be static, "
                                "contiguous memrefs");
      types.push_back(memref);
    }
    if (func.getNumResults() != 0)
      return func.emitOpError("kernels return through out-parameters");
    kernels.push_back({func.getSymName().str(), types});
  }
  llvm::StringMap<int64_t> blocks;
  for (auto func : module.getOps<func::FuncOp>()) {
    int64_t count = addBlockRange(func);
    if (count < 1)
      return func.emitOpError("cannot add the block range arguments");
    blocks[func.getSymName()] = count;
  }
  // memref.copy of strided views would lower to a call into MLIR's runner
  // library; as linalg.copy it becomes loops inside the kernel instead.
  SmallVector<memref::CopyOp> copies;
  module.walk([&](memref::CopyOp copy) { copies.push_back(copy); });
  for (memref::CopyOp copy : copies) {
    OpBuilder b(copy);
    linalg::CopyOp::create(b, copy.getLoc(), copy.getSource(),
                           copy.getTarget());
    copy.erase();
  }
  // Reductions (RMSNorm sums, attention dot products) only vectorise when
  // LLVM may reassociate them; contraction allows FMAs. No nnan/ninf: the
  // attention mask relies on -inf.
  auto flags = arith::FastMathFlagsAttr::get(
      module.getContext(),
      arith::FastMathFlags::reassoc | arith::FastMathFlags::contract);
  module.walk([&](arith::ArithFastMathInterface op) {
    op->setAttr(op.getFastMathAttrName(), flags);
  });
  // exp (softmax, SiLU) as a polynomial: unlike a libm call it vectorises.
  // sin/cos keep libm: RoPE angles reach the thousands of radians.
  RewritePatternSet patterns(module.getContext());
  populateMathPolynomialApproximationPatterns(patterns, [](StringRef name) {
    return name == "exp" || name == math::ExpOp::getOperationName();
  });
  // bf16 conversions (--precision=bf16 kernels run for checking) as
  // integer arithmetic, round to nearest even: x86 has no portable bf16
  // instructions and LLVM would call a libgcc helper Debian's lacks.
  arith::populateExpandBFloat16Patterns(patterns);
  if (failed(applyPatternsGreedily(module, std::move(patterns))))
    return module.emitError("polynomial approximation of exp failed");
  PassManager pm(module.getContext());
  pm.addPass(createVectorizeContractions());
  buildCpuLLVMPipeline(pm);
  if (failed(pm.run(module)))
    return failure();
  storeBFloat16AsBits(module);
  OpBuilder builder(module.getContext());
  builder.setInsertionPointToEnd(module.getBody());
  for (auto &[name, types] : kernels) {
    auto kernel = module.lookupSymbol<LLVM::LLVMFuncOp>(name);
    if (!kernel) {
      module.emitError("kernel @") << name << " vanished in lowering";
      return failure();
    }
    // The runtime sees only the packed entries.
    addPackedEntry(builder, kernel, types);
  }
  // Export only the packed entries; kernels and helpers stay internal so
  // LLVM can inline and specialise them.
  for (auto func : module.getOps<LLVM::LLVMFuncOp>())
    if (!func.isExternal() && !func.getName().ends_with("_packed"))
      func.setLinkage(LLVM::Linkage::Internal);
  return blocks;
}

llvm::Error growc::writeCpuSharedObject(ModuleOp module, llvm::StringRef path) {
  llvm::InitializeNativeTarget();
  llvm::InitializeNativeTargetAsmPrinter();
  registerBuiltinDialectTranslation(*module.getContext());
  registerLLVMDialectTranslation(*module.getContext());

  llvm::LLVMContext llvmContext;
  std::unique_ptr<llvm::Module> llvmModule =
      translateModuleToLLVMIR(module, llvmContext, "growc_kernels");
  if (!llvmModule)
    return fail("translation to LLVM IR failed");

  llvm::Triple triple(llvm::sys::getDefaultTargetTriple());
  std::string error;
  const llvm::Target *target =
      llvm::TargetRegistry::lookupTarget(triple, error);
  if (!target)
    return fail("no target for " + triple.str() + ": " + error);
  std::string features;
  for (const auto &feature : llvm::sys::getHostCPUFeatures())
    features += (feature.second ? "+" : "-") + feature.first().str() + ",";
  std::unique_ptr<llvm::TargetMachine> machine(target->createTargetMachine(
      triple, llvm::sys::getHostCPUName(), features, llvm::TargetOptions(),
      llvm::Reloc::PIC_, std::nullopt, llvm::CodeGenOptLevel::Aggressive));
  if (!machine)
    return fail("cannot create a target machine for the host");
  llvmModule->setTargetTriple(triple);
  llvmModule->setDataLayout(machine->createDataLayout());
  // LLVM vectorises for 256-bit registers on AVX-512 hosts by default (to
  // avoid frequency drops in mixed code); growc's kernels are all vector
  // loops, so they use the full width the host has.
  if (llvm::StringMap<bool> hostFeatures = llvm::sys::getHostCPUFeatures();
      hostFeatures.lookup("avx512f"))
    for (llvm::Function &function : *llvmModule)
      if (!function.isDeclaration())
        function.addFnAttr("prefer-vector-width", "512");
  optimizeKernels(*llvmModule, *machine);

  // The object file and the linker's messages go to temporaries beside
  // `path` (itself a temporary of the artifact set), removed however this
  // ends, Ctrl-C included.
  llvm::SmallString<128> object, log;
  if (std::error_code ec =
          llvm::sys::fs::createUniqueFile(path + ".%%%%%%.o", object))
    return fail("cannot write " + path + ": " + ec.message());
  TemporaryFile removeObject(object);
  {
    std::error_code ec;
    llvm::raw_fd_ostream os(object, ec, llvm::sys::fs::OF_None);
    if (ec)
      return fail("cannot write " + path + ": " + ec.message());
    llvm::legacy::PassManager codegen;
    if (machine->addPassesToEmitFile(codegen, os, nullptr,
                                     llvm::CodeGenFileType::ObjectFile))
      return fail("the host target cannot emit object files");
    codegen.run(*llvmModule);
    os.close();
    // Checked here: a stream destroyed with an error aborts the process
    // ("LLVM ERROR: IO failure").
    if (os.has_error()) {
      std::string reason = os.error().message();
      os.clear_error();
      return fail("cannot write " + path + ": " + reason);
    }
  }
  if (std::error_code ec =
          llvm::sys::fs::createUniqueFile(path + ".%%%%%%.log", log))
    return fail("cannot write " + path + ": " + ec.message());
  TemporaryFile removeLog(log);

  std::string linker;
  for (const char *name : {"clang-22", "clang", "cc"})
    if (auto found = llvm::sys::findProgramByName(name)) {
      linker = *found;
      break;
    }
  if (linker.empty())
    return fail("no compiler driver (clang-22, clang or cc) to link the "
                "shared object");
  std::string message;
  SmallVector<llvm::StringRef> argv = {linker, "-shared", "-o",
                                       path,   object,    "-lm"};
  std::optional<llvm::StringRef> redirects[] = {
      std::nullopt, llvm::StringRef(log), llvm::StringRef(log)};
  if (llvm::sys::ExecuteAndWait(linker, argv, std::nullopt, redirects, 0, 0,
                                &message) == 0) {
    // Warnings of a successful link still reach the user.
    if (auto text = llvm::MemoryBuffer::getFile(log);
        text && !(*text)->getBuffer().empty())
      llvm::errs() << (*text)->getBuffer();
    return llvm::Error::success();
  }
  // The linker's own first message says why (a full disk: "... File too
  // large" / "No space left on device").
  std::string reason = message;
  if (auto text = llvm::MemoryBuffer::getFile(log); text && reason.empty()) {
    llvm::StringRef first = (*text)->getBuffer().trim().split('\n').first;
    reason = first.str();
  }
  return fail("cannot write " + path + ": linking the shared object failed" +
              (reason.empty() ? "" : ": " + reason));
}

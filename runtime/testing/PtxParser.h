//===- PtxParser.h - The parsed form of a PTX module ------------*- C++ -*-===//
//
// Test infrastructure (see PtxInterpreter.h): what the parser makes of a
// PTX module and the interpreter runs. Instructions are decoded once, at
// load, into a flat form (an opcode, types, modifiers and up to five
// operands, registers numbered per kernel), so that everything the
// interpreter does not implement is rejected with its PTX line before a
// kernel runs.
//
//===----------------------------------------------------------------------===//

#ifndef GROWC_RUNTIME_TESTING_PTXPARSER_H
#define GROWC_RUNTIME_TESTING_PTXPARSER_H

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace growc::ptx {

enum class Ty : uint8_t {
  None,
  B8,
  B16,
  B32,
  B64,
  U8,
  U16,
  U32,
  U64,
  S8,
  S16,
  S32,
  S64,
  BF16,
  BF16X2,
  F32,
  F64,
  Pred
};

inline unsigned bitsOf(Ty t) {
  switch (t) {
  case Ty::B8:
  case Ty::U8:
  case Ty::S8:
    return 8;
  case Ty::B16:
  case Ty::U16:
  case Ty::S16:
  case Ty::BF16:
    return 16;
  case Ty::BF16X2:
  case Ty::B32:
  case Ty::U32:
  case Ty::S32:
  case Ty::F32:
    return 32;
  case Ty::B64:
  case Ty::U64:
  case Ty::S64:
  case Ty::F64:
    return 64;
  case Ty::Pred:
    return 1;
  case Ty::None:
    return 64;
  }
  return 64;
}
inline bool isSigned(Ty t) {
  return t == Ty::S8 || t == Ty::S16 || t == Ty::S32 || t == Ty::S64;
}
inline bool isFloat(Ty t) {
  return t == Ty::F32 || t == Ty::F64 || t == Ty::BF16;
}

enum class Op : uint8_t {
  Add,
  Sub,
  Mul,
  Mad,
  Madc,
  Fma,
  Div,
  Rem,
  Rcp,
  Sqrt,
  Rsqrt,
  Ex2,
  Lg2,
  Sin,
  Cos,
  Tanh,
  Neg,
  Abs,
  Min,
  Max,
  And,
  Or,
  Xor,
  Not,
  Shl,
  Shr,
  Shf,
  Bfe,
  Popc,
  Clz,
  Setp,
  Selp,
  Mov,
  Cvt,
  Cvta,
  Ld,
  St,
  Bra,
  Ret,
  Bar,
  Nop,
  // Warp-collective: every lane of the warp takes part at once.
  Shfl,
  Mma,
  Ldmatrix,
  // Atomic read-modify-write of global memory (add only): red has no
  // result, atom returns the old value.
  Red,
  Atom,
  // Asynchronous copies global -> shared (sm_80 cp.async): the copy, the
  // commit of the thread's copies since the last commit as a group, and
  // the wait until at most `n` of its groups are pending (wait_all: 0).
  CpAsync,
  CpAsyncCommit,
  CpAsyncWait
};

enum class Space : uint8_t { Generic, Global, Shared, Local, Param, Const };
enum Rounding : uint8_t { RNone, Rn, Rz, Rm, Rp, Rni, Rzi, Rmi, Rpi };
enum Cmp : uint8_t {
  CEq,
  CNe,
  CLt,
  CLe,
  CGt,
  CGe,
  CLo,
  CLs,
  CHi,
  CHs,
  CEqu,
  CNeu,
  CLtu,
  CLeu,
  CGtu,
  CGeu,
  CNum,
  CNan
};

enum class Kind : uint8_t {
  None,
  Reg,
  Imm,
  Shared,
  Local,
  Global,
  Param,
  Special,
  Vector,
  Sink
};

enum Special : uint8_t {
  TidX,
  TidY,
  TidZ,
  NtidX,
  NtidY,
  NtidZ,
  CtaidX,
  CtaidY,
  CtaidZ,
  NctaidX,
  NctaidY,
  NctaidZ,
  LaneId,
  WarpId
};

struct Operand {
  Kind kind = Kind::None;
  bool memory = false; // [base + offset]
  int32_t reg = -1;
  uint64_t imm = 0; // immediate bits, symbol offset or address
  int64_t offset = 0;
  uint8_t special = 0;
  uint8_t count = 0;          // vector
  int32_t regs[4] = {};       // vector registers, -1 for a sink or a constant
  uint64_t constants[4] = {}; // a vector's constant elements (stores)
};

struct Inst {
  Op op = Op::Nop;
  Ty type = Ty::None, type2 = Ty::None; // cvt: destination, source
  uint8_t rounding = RNone, cmp = CEq, vec = 1;
  bool ftz = false, sat = false, nanMode = false, wide = false, hi = false,
       cc = false, shfLeft = false, shfWrap = false;
  Space space = Space::Generic;
  int32_t guard = -1;
  bool guardNegated = false;
  uint8_t count = 0;
  Operand ops[5];
  /// shfl: the mode (0 up, 1 down, 2 bfly, 3 idx) and its `|p` predicate;
  /// ldmatrix: how many 8x8 matrices, and whether transposed.
  uint8_t mode = 0, matrices = 1;
  bool transposed = false;
  int32_t predicate = -1;
  int32_t target = -1;
  int line = 0;
};

struct Variable {
  Space space;
  uint64_t size, align;
  std::vector<uint8_t> init;
  bool dynamic = false;
};

struct Kernel {
  std::string name;
  std::vector<unsigned> paramSizes, paramOffsets;
  uint64_t paramBytes = 0;
  unsigned maxThreads = 0;
  uint64_t staticShared = 0, localBytes = 0;
  bool usesDynamicShared = false;
  uint64_t dynamicOffset = 0;
  unsigned registers = 0;
  std::vector<Inst> code;
};

/// A parsed PTX module: its entry points and module-scope variables.
class Module {
public:
  /// Parses `text`; on failure returns null and sets `error` to a message
  /// that names the line.
  static std::unique_ptr<Module> parse(const std::string &text,
                                       std::string &error);
  ~Module();

  /// The entry point called `name`, or null.
  const Kernel *find(const std::string &name) const;
  /// Byte size of each of the kernel's parameters, in order.
  static std::vector<unsigned> paramSizes(const Kernel &kernel);
  /// The most threads a block of the kernel may have (.maxntid/.reqntid),
  /// or 0 where the PTX does not say.
  static unsigned maxThreads(const Kernel &kernel);
  /// Static shared memory of the kernel, in bytes.
  static uint64_t staticShared(const Kernel &kernel);

  /// The module-scope global variable that holds `address`, if any.
  bool findGlobal(uint64_t address, uint64_t &base, uint64_t &size) const;

  struct Impl;

private:
  explicit Module(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl;
};

struct Module::Impl {
  std::vector<std::unique_ptr<Kernel>> kernels;
  /// Module-scope globals: name -> host memory.
  std::map<std::string, std::vector<uint8_t>> globals;
  std::vector<std::pair<std::string, Variable>> moduleShared;
};

} // namespace growc::ptx

#endif // GROWC_RUNTIME_TESTING_PTXPARSER_H

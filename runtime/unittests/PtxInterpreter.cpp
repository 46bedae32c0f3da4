//===- PtxInterpreter.cpp - Runs PTX kernels on the host, for tests -------===//
//
// Test infrastructure (see PtxInterpreter.h): a parser for the PTX that
// LLVM's NVPTX backend and nvcc emit for straight-line and looping SIMT
// kernels, and an interpreter that runs each thread to its next barrier.
// Semantics follow the PTX ISA (version 8): integer ops wrap at their
// type's width, float ops round to nearest unless a rounding modifier
// says otherwise, .ftz flushes f32 subnormals, float-to-int conversions
// saturate, and the .approx functions are computed exactly (the ISA bounds
// their error; tests compare with tolerances).
//
//===----------------------------------------------------------------------===//

#include "PtxInterpreter.h"

#include <algorithm>
#include <cfenv>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <limits>
#include <map>
#include <sstream>
#include <unordered_map>

namespace growc::ptx {
namespace {

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

unsigned bitsOf(Ty t) {
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
bool isSigned(Ty t) {
  return t == Ty::S8 || t == Ty::S16 || t == Ty::S32 || t == Ty::S64;
}
bool isFloat(Ty t) { return t == Ty::F32 || t == Ty::F64 || t == Ty::BF16; }

Ty parseType(const std::string &s) {
  static const std::unordered_map<std::string, Ty> types = {
      {"b8", Ty::B8},     {"b16", Ty::B16},       {"b32", Ty::B32},
      {"b64", Ty::B64},   {"u8", Ty::U8},         {"u16", Ty::U16},
      {"u32", Ty::U32},   {"u64", Ty::U64},       {"s8", Ty::S8},
      {"s16", Ty::S16},   {"s32", Ty::S32},       {"s64", Ty::S64},
      {"bf16", Ty::BF16}, {"bf16x2", Ty::BF16X2}, {"f32", Ty::F32},
      {"f64", Ty::F64},   {"pred", Ty::Pred}};
  auto it = types.find(s);
  return it == types.end() ? Ty::None : it->second;
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
  Ldmatrix
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
  uint8_t count = 0;    // vector
  int32_t regs[4] = {}; // vector registers, -1 for a sink
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

} // namespace

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

struct Module::Impl {
  std::vector<std::unique_ptr<Kernel>> kernels;
  /// Module-scope globals: name -> host memory.
  std::map<std::string, std::vector<uint8_t>> globals;
  std::vector<std::pair<std::string, Variable>> moduleShared;
};

namespace {

std::string trim(const std::string &s) {
  size_t b = s.find_first_not_of(" \t\r\n");
  if (b == std::string::npos)
    return "";
  size_t e = s.find_last_not_of(" \t\r\n");
  return s.substr(b, e - b + 1);
}

std::vector<std::string> splitTopLevel(const std::string &s, char sep) {
  std::vector<std::string> parts;
  int depth = 0;
  std::string cur;
  for (char c : s) {
    if (c == '{' || c == '[' || c == '(')
      ++depth;
    if (c == '}' || c == ']' || c == ')')
      --depth;
    if (c == sep && depth == 0) {
      parts.push_back(trim(cur));
      cur.clear();
      continue;
    }
    cur += c;
  }
  if (!trim(cur).empty())
    parts.push_back(trim(cur));
  return parts;
}

std::vector<std::string> splitWords(const std::string &s) {
  std::vector<std::string> words;
  std::istringstream in(s);
  for (std::string w; in >> w;)
    words.push_back(w);
  return words;
}

/// A statement of the PTX text: its words up to ';', '{' or '}', or a
/// label, with the line it starts on.
struct Statement {
  std::string text;
  int line;
  enum { Plain, Open, Close, Label } kind;
};

std::vector<Statement> statements(const std::string &source) {
  std::vector<Statement> out;
  std::string cur;
  int line = 1, startLine = 1, inner = 0;
  auto flush = [&](auto kind) {
    std::string t = trim(cur);
    if (!t.empty() || kind != Statement::Plain)
      out.push_back({t, startLine, kind});
    cur.clear();
  };
  for (size_t i = 0; i < source.size(); ++i) {
    char c = source[i];
    if (c == '/' && i + 1 < source.size() && source[i + 1] == '/') {
      while (i < source.size() && source[i] != '\n')
        ++i;
      --i;
      continue;
    }
    if (c == '/' && i + 1 < source.size() && source[i + 1] == '*') {
      size_t end = source.find("*/", i + 2);
      for (size_t j = i; j < end && j < source.size(); ++j)
        line += source[j] == '\n';
      i = end == std::string::npos ? source.size() : end + 1;
      continue;
    }
    if (c == '\n') {
      // Module directives end at the line's end, without a ';'.
      std::string t = trim(cur);
      if (t.rfind(".version", 0) == 0 || t.rfind(".target", 0) == 0 ||
          t.rfind(".address_size", 0) == 0 || t.rfind(".file", 0) == 0 ||
          t.rfind(".loc", 0) == 0)
        flush(Statement::Plain);
      ++line;
    }
    if (trim(cur).empty()) {
      cur.clear();
      startLine = line;
    }
    if (c == '{' && trim(cur).empty()) {
      // A scope: an entry's body or an inline-asm block.
      out.push_back({"", line, Statement::Open});
      continue;
    }
    if (c == '{' && inner == 0 &&
        (cur.find(".entry") != std::string::npos ||
         cur.find(".func") != std::string::npos)) {
      flush(Statement::Open); // a function header, then its body
      continue;
    }
    if (c == '{') {
      ++inner; // a vector operand or an initializer
      cur += c;
      continue;
    }
    if (c == '}' && inner > 0) {
      --inner;
      cur += c;
      continue;
    }
    if (c == '}') {
      flush(Statement::Plain);
      out.push_back({"", line, Statement::Close});
      continue;
    }
    if (c == ';' && inner == 0) {
      flush(Statement::Plain);
      continue;
    }
    if (c == ':' && inner == 0) {
      std::string t = trim(cur);
      bool scope = i + 1 < source.size() && source[i + 1] == ':';
      if (!t.empty() && !scope &&
          t.find_first_of(" \t.") == std::string::npos) {
        cur = t;
        flush(Statement::Label);
        continue;
      }
    }
    cur += c;
  }
  flush(Statement::Plain);
  return out;
}

bool parseInteger(const std::string &s, uint64_t &value) {
  if (s.empty())
    return false;
  const char *p = s.c_str();
  bool negative = *p == '-';
  if (negative)
    ++p;
  char *end = nullptr;
  uint64_t v;
  if (p[0] == '0' && (p[1] == 'x' || p[1] == 'X'))
    v = std::strtoull(p + 2, &end, 16);
  else
    v = std::strtoull(p, &end, 10);
  if (!end || *end != '\0' || end == p)
    return false;
  value = negative ? uint64_t(-int64_t(v)) : v;
  return true;
}

bool parseImmediate(const std::string &s, uint64_t &value) {
  if (s.size() == 10 && (s.rfind("0f", 0) == 0 || s.rfind("0F", 0) == 0)) {
    value = std::strtoull(s.c_str() + 2, nullptr, 16);
    return true;
  }
  if (s.size() == 18 && (s.rfind("0d", 0) == 0 || s.rfind("0D", 0) == 0)) {
    value = std::strtoull(s.c_str() + 2, nullptr, 16);
    return true;
  }
  return parseInteger(s, value);
}

struct VarDecl {
  std::string name;
  Variable var;
};

/// `.global .align 4 .b8 name[24] = {...}`, `.shared .align 4 .f32 x`,
/// `.extern .shared .align 16 .b8 dyn[]`, `.local .align 8 .b8 depot[28]`.
bool parseVariable(const std::string &text, VarDecl &out, std::string &error) {
  std::string decl = text, init;
  if (size_t eq = text.find('='); eq != std::string::npos) {
    decl = text.substr(0, eq);
    init = trim(text.substr(eq + 1));
  }
  std::vector<std::string> words = splitWords(decl);
  Variable v{Space::Global, 0, 1, {}, false};
  Ty elem = Ty::None;
  std::string name;
  bool extern_ = false;
  for (size_t i = 0; i < words.size(); ++i) {
    const std::string &w = words[i];
    if (w == ".visible" || w == ".weak")
      continue;
    if (w == ".extern") {
      extern_ = true;
      continue;
    }
    if (w == ".global")
      v.space = Space::Global;
    else if (w == ".const")
      v.space = Space::Const;
    else if (w == ".shared")
      v.space = Space::Shared;
    else if (w == ".local")
      v.space = Space::Local;
    else if (w == ".align" && i + 1 < words.size())
      v.align = std::strtoull(words[++i].c_str(), nullptr, 10);
    else if (w[0] == '.' && parseType(w.substr(1)) != Ty::None)
      elem = parseType(w.substr(1));
    else if (w[0] == '.') {
      error = "unsupported variable modifier '" + w + "'";
      return false;
    } else
      name += w;
  }
  if (elem == Ty::None || name.empty()) {
    error = "malformed variable declaration '" + text + "'";
    return false;
  }
  uint64_t elemBytes = std::max(1u, bitsOf(elem) / 8), count = 1;
  if (size_t br = name.find('['); br != std::string::npos) {
    std::string n = name.substr(br + 1, name.find(']') - br - 1);
    name = name.substr(0, br);
    if (n.empty()) {
      if (!extern_ || v.space != Space::Shared) {
        error = "an unsized array other than extern shared: '" + text + "'";
        return false;
      }
      v.dynamic = true;
      count = 0;
    } else {
      count = std::strtoull(n.c_str(), nullptr, 10);
    }
  }
  v.size = elemBytes * count;
  v.init.assign(v.size, 0);
  if (!init.empty()) {
    std::string list = init;
    if (list.front() == '{')
      list = list.substr(1, list.rfind('}') - 1);
    std::vector<std::string> values = splitTopLevel(list, ',');
    if (values.size() > count) {
      error = "too many initial values for '" + name + "'";
      return false;
    }
    for (size_t i = 0; i < values.size(); ++i) {
      uint64_t bits;
      if (!parseImmediate(values[i], bits)) {
        error = "unsupported initial value '" + values[i] + "'";
        return false;
      }
      std::memcpy(v.init.data() + i * elemBytes, &bits, elemBytes);
    }
  }
  out = {name, std::move(v)};
  return true;
}

uint64_t alignUp(uint64_t x, uint64_t a) { return (x + a - 1) / a * a; }

class KernelParser {
public:
  KernelParser(Module::Impl &module, Kernel &kernel)
      : module(module), k(kernel) {}

  bool header(const std::string &text, std::string &error) {
    size_t open = text.find('('), close = text.rfind(')');
    std::string head = open == std::string::npos ? text : text.substr(0, open);
    std::vector<std::string> words = splitWords(head);
    if (words.empty() || words.back() == ".entry") {
      error = "an entry without a name";
      return false;
    }
    k.name = words.back();
    if (open != std::string::npos) {
      std::string list = text.substr(open + 1, close - open - 1);
      for (const std::string &p : splitTopLevel(list, ',')) {
        std::vector<std::string> w = splitWords(p);
        uint64_t size = 0, align = 0, count = 1;
        std::string pname;
        for (size_t i = 0; i < w.size(); ++i) {
          if (w[i] == ".param" || w[i] == ".ptr" || w[i] == ".global" ||
              w[i] == ".shared" || w[i] == ".const" || w[i] == ".local")
            continue;
          if (w[i] == ".align" && i + 1 < w.size()) {
            align = std::strtoull(w[++i].c_str(), nullptr, 10);
            continue;
          }
          if (w[i][0] == '.' && parseType(w[i].substr(1)) != Ty::None) {
            size = std::max(1u, bitsOf(parseType(w[i].substr(1))) / 8);
            continue;
          }
          pname = w[i];
        }
        if (size_t br = pname.find('['); br != std::string::npos) {
          count = std::strtoull(pname.c_str() + br + 1, nullptr, 10);
          pname = pname.substr(0, br);
        }
        if (!size || pname.empty()) {
          error = "malformed parameter '" + p + "'";
          return false;
        }
        // .ptr's .align describes the pointee; a parameter aligns to its size.
        uint64_t paramAlign = count > 1 && align ? align : size;
        uint64_t offset = alignUp(k.paramBytes, paramAlign);
        k.paramOffsets.push_back(unsigned(offset));
        k.paramSizes.push_back(unsigned(size * count));
        params[pname] = offset;
        k.paramBytes = offset + size * count;
      }
    }
    std::string tail = close == std::string::npos ? "" : text.substr(close + 1);
    for (const char *directive : {".maxntid", ".reqntid"}) {
      size_t at = tail.find(directive);
      if (at == std::string::npos)
        continue;
      std::vector<std::string> dims =
          splitTopLevel(tail.substr(at + std::strlen(directive)), ',');
      unsigned threads = 1;
      for (const std::string &d : dims)
        threads *= unsigned(std::strtoul(d.c_str(), nullptr, 10));
      k.maxThreads = threads;
    }
    // Module-scope shared variables come first in every kernel's layout.
    for (auto &[name, var] : module.moduleShared)
      addShared(name, var);
    return true;
  }

  void addShared(const std::string &name, const Variable &var) {
    if (var.dynamic) {
      dynamicNames.push_back(name);
      return;
    }
    k.staticShared = alignUp(k.staticShared, var.align);
    shared[name] = k.staticShared;
    k.staticShared += var.size;
  }

  bool statement(const Statement &s, std::string &error) {
    const std::string &t = s.text;
    if (s.kind == Statement::Label) {
      labels[t] = int(k.code.size());
      return true;
    }
    if (s.kind != Statement::Plain || t.empty())
      return true;
    if (t.rfind(".reg", 0) == 0)
      return declareRegisters(t, error);
    if (t.rfind(".pragma", 0) == 0)
      return true;
    if (t.rfind(".local", 0) == 0 || t.rfind(".shared", 0) == 0) {
      VarDecl d;
      if (!parseVariable(t, d, error))
        return false;
      if (d.var.space == Space::Shared) {
        addShared(d.name, d.var);
      } else {
        k.localBytes = alignUp(k.localBytes, d.var.align);
        local[d.name] = k.localBytes;
        k.localBytes += d.var.size;
      }
      return true;
    }
    if (t[0] == '.') {
      error = "unsupported directive '" + t + "'";
      return false;
    }
    return instruction(t, s.line, error);
  }

  bool finish(std::string &error) {
    if (!dynamicNames.empty()) {
      k.usesDynamicShared = true;
      k.dynamicOffset = alignUp(k.staticShared, 16);
    }
    for (auto &[index, label] : branches) {
      auto it = labels.find(label);
      if (it == labels.end()) {
        error = "branch to an unknown label '" + label + "'";
        return false;
      }
      k.code[index].target = it->second;
    }
    // Falling off the end returns.
    Inst ret;
    ret.op = Op::Ret;
    k.code.push_back(ret);
    k.registers = unsigned(registers.size());
    return true;
  }

private:
  bool declareRegisters(const std::string &t, std::string &error) {
    std::vector<std::string> words = splitWords(t);
    if (words.size() < 3) {
      error = "malformed register declaration '" + t + "'";
      return false;
    }
    std::string names;
    for (size_t i = 2; i < words.size(); ++i)
      names += words[i];
    for (const std::string &n : splitTopLevel(names, ',')) {
      size_t lt = n.find('<');
      if (lt == std::string::npos) {
        registers.emplace(n, int32_t(registers.size()));
        continue;
      }
      std::string prefix = n.substr(0, lt);
      unsigned count = unsigned(std::strtoul(n.c_str() + lt + 1, nullptr, 10));
      for (unsigned i = 0; i < count; ++i)
        registers.emplace(prefix + std::to_string(i),
                          int32_t(registers.size()));
    }
    return true;
  }

  bool operand(const std::string &text, Operand &o, std::string &error) {
    std::string s = trim(text);
    if (s.empty()) {
      error = "an empty operand";
      return false;
    }
    if (s.front() == '[') {
      std::string inner = trim(s.substr(1, s.rfind(']') - 1));
      int64_t offset = 0;
      size_t plus = inner.find('+');
      if (plus != std::string::npos) {
        uint64_t off;
        if (!parseInteger(trim(inner.substr(plus + 1)), off)) {
          error = "unsupported address '" + s + "'";
          return false;
        }
        offset = int64_t(off);
        inner = trim(inner.substr(0, plus));
      }
      if (!operand(inner, o, error))
        return false;
      if (o.kind == Kind::Imm) {
        // An absolute address.
        o.kind = Kind::Global;
      }
      o.memory = true;
      o.offset = offset;
      return true;
    }
    if (s.front() == '{') {
      std::vector<std::string> parts =
          splitTopLevel(s.substr(1, s.rfind('}') - 1), ',');
      if (parts.empty() || parts.size() > 4) {
        error = "unsupported vector operand '" + s + "'";
        return false;
      }
      o.kind = Kind::Vector;
      o.count = uint8_t(parts.size());
      for (size_t i = 0; i < parts.size(); ++i) {
        if (parts[i] == "_") {
          o.regs[i] = -1;
          continue;
        }
        auto it = registers.find(parts[i]);
        if (it == registers.end()) {
          error = "unknown register '" + parts[i] + "'";
          return false;
        }
        o.regs[i] = it->second;
      }
      return true;
    }
    if (s == "_") {
      o.kind = Kind::Sink;
      return true;
    }
    if (auto it = registers.find(s); it != registers.end()) {
      o.kind = Kind::Reg;
      o.reg = it->second;
      return true;
    }
    static const std::unordered_map<std::string, uint8_t> specials = {
        {"%tid.x", TidX},       {"%tid.y", TidY},       {"%tid.z", TidZ},
        {"%ntid.x", NtidX},     {"%ntid.y", NtidY},     {"%ntid.z", NtidZ},
        {"%ctaid.x", CtaidX},   {"%ctaid.y", CtaidY},   {"%ctaid.z", CtaidZ},
        {"%nctaid.x", NctaidX}, {"%nctaid.y", NctaidY}, {"%nctaid.z", NctaidZ},
        {"%laneid", LaneId},    {"%warpid", WarpId}};
    if (auto it = specials.find(s); it != specials.end()) {
      o.kind = Kind::Special;
      o.special = it->second;
      return true;
    }
    if (s[0] == '%') {
      error = "unknown register '" + s + "'";
      return false;
    }
    uint64_t value;
    if (std::isdigit(static_cast<unsigned char>(s[0])) || s[0] == '-') {
      if (!parseImmediate(s, value)) {
        error = "malformed immediate '" + s + "'";
        return false;
      }
      o.kind = Kind::Imm;
      o.imm = value;
      return true;
    }
    if (auto it = params.find(s); it != params.end()) {
      o.kind = Kind::Param;
      o.imm = it->second;
      return true;
    }
    if (auto it = shared.find(s); it != shared.end()) {
      o.kind = Kind::Shared;
      o.imm = it->second;
      return true;
    }
    if (std::find(dynamicNames.begin(), dynamicNames.end(), s) !=
        dynamicNames.end()) {
      o.kind = Kind::Shared;
      o.imm = ~uint64_t(0); // resolved in finish(): the dynamic offset
      return true;
    }
    if (auto it = local.find(s); it != local.end()) {
      o.kind = Kind::Local;
      o.imm = it->second;
      return true;
    }
    if (auto it = module.globals.find(s); it != module.globals.end()) {
      o.kind = Kind::Global;
      o.imm = reinterpret_cast<uint64_t>(it->second.data());
      return true;
    }
    error = "unknown symbol '" + s + "'";
    return false;
  }

  bool instruction(const std::string &text, int line, std::string &error) {
    Inst in;
    in.line = line;
    std::string rest = text;
    if (rest[0] == '@') {
      size_t sp = rest.find_first_of(" \t");
      std::string guard = rest.substr(1, sp - 1);
      if (!guard.empty() && guard[0] == '!') {
        in.guardNegated = true;
        guard = guard.substr(1);
      }
      auto it = registers.find(guard);
      if (it == registers.end()) {
        error = "unknown guard predicate '" + guard + "'";
        return false;
      }
      in.guard = it->second;
      rest = trim(rest.substr(sp));
    }
    size_t sp = rest.find_first_of(" \t");
    std::string opcode = rest.substr(0, sp);
    std::string operands = sp == std::string::npos ? "" : trim(rest.substr(sp));
    if (!decode(opcode, in, error)) {
      error = "unsupported instruction '" + opcode + "'" +
              (error.empty() ? "" : ": " + error);
      return false;
    }
    std::vector<std::string> parts = splitTopLevel(operands, ',');
    if (in.op == Op::Bra) {
      if (parts.size() != 1) {
        error = "malformed branch '" + text + "'";
        return false;
      }
      branches.emplace_back(k.code.size(), parts[0]);
      k.code.push_back(in);
      return true;
    }
    if (in.op == Op::Bar) {
      if (parts.size() != 1 || parts[0] != "0") {
        error = "only 'bar.sync 0' (the whole block) is supported, not '" +
                text + "'";
        return false;
      }
      k.code.push_back(in);
      return true;
    }
    if (parts.size() > 5) {
      error = "too many operands in '" + text + "'";
      return false;
    }
    if (in.op == Op::Shfl && !parts.empty()) {
      // `d|p`: the destination and whether the source lane was in range.
      if (size_t bar = parts[0].find('|'); bar != std::string::npos) {
        auto it = registers.find(trim(parts[0].substr(bar + 1)));
        if (it == registers.end()) {
          error = "unknown predicate in '" + parts[0] + "'";
          return false;
        }
        in.predicate = it->second;
        parts[0] = trim(parts[0].substr(0, bar));
      }
    }
    in.count = uint8_t(parts.size());
    for (size_t i = 0; i < parts.size(); ++i)
      if (!operand(parts[i], in.ops[i], error))
        return false;
    for (Operand &o : in.ops)
      if (o.kind == Kind::Shared && o.imm == ~uint64_t(0))
        pendingDynamic.push_back(&o - in.ops);
    size_t index = k.code.size();
    k.code.push_back(in);
    for (long op : pendingDynamic)
      dynamicUses.emplace_back(index, int(op));
    pendingDynamic.clear();
    return true;
  }

  bool decode(const std::string &opcode, Inst &in, std::string &error) {
    std::vector<std::string> parts;
    std::string cur;
    for (char c : opcode) {
      if (c == '.') {
        parts.push_back(cur);
        cur.clear();
      } else {
        cur += c;
      }
    }
    parts.push_back(cur);
    static const std::unordered_map<std::string, Op> ops = {
        {"add", Op::Add},    {"sub", Op::Sub},          {"mul", Op::Mul},
        {"mad", Op::Mad},    {"madc", Op::Madc},        {"fma", Op::Fma},
        {"div", Op::Div},    {"rem", Op::Rem},          {"rcp", Op::Rcp},
        {"sqrt", Op::Sqrt},  {"rsqrt", Op::Rsqrt},      {"ex2", Op::Ex2},
        {"lg2", Op::Lg2},    {"sin", Op::Sin},          {"cos", Op::Cos},
        {"tanh", Op::Tanh},  {"neg", Op::Neg},          {"abs", Op::Abs},
        {"min", Op::Min},    {"max", Op::Max},          {"and", Op::And},
        {"or", Op::Or},      {"xor", Op::Xor},          {"not", Op::Not},
        {"shl", Op::Shl},    {"shr", Op::Shr},          {"shf", Op::Shf},
        {"bfe", Op::Bfe},    {"popc", Op::Popc},        {"clz", Op::Clz},
        {"setp", Op::Setp},  {"selp", Op::Selp},        {"mov", Op::Mov},
        {"cvt", Op::Cvt},    {"cvta", Op::Cvta},        {"ld", Op::Ld},
        {"st", Op::St},      {"bra", Op::Bra},          {"ret", Op::Ret},
        {"exit", Op::Ret},   {"bar", Op::Bar},          {"barrier", Op::Bar},
        {"membar", Op::Nop}, {"fence", Op::Nop},        {"shfl", Op::Shfl},
        {"mma", Op::Mma},    {"ldmatrix", Op::Ldmatrix}};
    auto it = ops.find(parts[0]);
    if (it == ops.end())
      return false;
    in.op = it->second;
    static const std::unordered_map<std::string, uint8_t> cmps = {
        {"eq", CEq},   {"ne", CNe},   {"lt", CLt},   {"le", CLe},
        {"gt", CGt},   {"ge", CGe},   {"lo", CLo},   {"ls", CLs},
        {"hi", CHi},   {"hs", CHs},   {"equ", CEqu}, {"neu", CNeu},
        {"ltu", CLtu}, {"leu", CLeu}, {"gtu", CGtu}, {"geu", CGeu},
        {"num", CNum}, {"nan", CNan}};
    static const std::unordered_map<std::string, uint8_t> roundings = {
        {"rn", Rn},   {"rz", Rz},   {"rm", Rm},   {"rp", Rp},
        {"rni", Rni}, {"rzi", Rzi}, {"rmi", Rmi}, {"rpi", Rpi}};
    std::vector<Ty> types;
    for (size_t i = 1; i < parts.size(); ++i) {
      const std::string &m = parts[i];
      if (in.op == Op::Setp && i == 1) {
        auto c = cmps.find(m);
        if (c == cmps.end()) {
          error = "comparison '" + m + "'";
          return false;
        }
        in.cmp = c->second;
        continue;
      }
      if (Ty t = parseType(m); t != Ty::None) {
        types.push_back(t);
        continue;
      }
      if (auto r = roundings.find(m); r != roundings.end()) {
        in.rounding = r->second;
        continue;
      }
      if (m == "ftz")
        in.ftz = true;
      else if (m == "sat")
        in.sat = true;
      else if (m == "NaN")
        in.nanMode = true;
      else if (m == "wide")
        in.wide = true;
      else if (m == "hi")
        in.hi = true;
      else if (m == "lo")
        in.hi = false;
      else if (m == "cc")
        in.cc = true;
      else if (m == "global")
        in.space = Space::Global;
      else if (m == "shared" || m == "shared::cta")
        in.space = Space::Shared;
      else if (m == "local")
        in.space = Space::Local;
      else if (m == "param")
        in.space = Space::Param;
      else if (m == "const")
        in.space = Space::Const;
      else if (m == "v2")
        in.vec = 2;
      else if (m == "v4")
        in.vec = 4;
      else if (m == "l" && in.op == Op::Shf)
        in.shfLeft = true;
      else if (m == "r" && in.op == Op::Shf)
        in.shfLeft = false;
      else if (m == "wrap" && in.op == Op::Shf)
        in.shfWrap = true;
      else if (m == "clamp" && in.op == Op::Shf)
        in.shfWrap = false;
      else if ((m == "approx" || m == "full") &&
               (in.op == Op::Div || in.op == Op::Rcp || in.op == Op::Sqrt ||
                in.op == Op::Rsqrt || in.op == Op::Ex2 || in.op == Op::Lg2 ||
                in.op == Op::Sin || in.op == Op::Cos || in.op == Op::Tanh))
        continue;
      else if ((m == "nc" || m == "ca" || m == "cg" || m == "cs" || m == "lu" ||
                m == "cv" || m == "wb" || m == "wt" || m == "volatile" ||
                m == "relaxed") &&
               (in.op == Op::Ld || in.op == Op::St))
        continue;
      else if (in.op == Op::Shfl &&
               (m == "up" || m == "down" || m == "bfly" || m == "idx"))
        in.mode = m == "up" ? 0 : m == "down" ? 1 : m == "bfly" ? 2 : 3;
      else if ((m == "sync" || m == "aligned") &&
               (in.op == Op::Shfl || in.op == Op::Mma || in.op == Op::Ldmatrix))
        continue;
      else if (in.op == Op::Mma &&
               (m == "m16n8k16" || m == "row" || m == "col"))
        continue;
      else if (in.op == Op::Ldmatrix &&
               (m == "m8n8" || m == "x1" || m == "x2" || m == "x4"))
        in.matrices = m == "x4" ? 4 : m == "x2" ? 2 : 1;
      else if (in.op == Op::Ldmatrix && m == "trans")
        in.transposed = true;
      else if (m == "to" && in.op == Op::Cvta)
        continue;
      else if (m == "uni" && in.op == Op::Bra)
        continue;
      else if ((m == "sync" || m == "aligned") && in.op == Op::Bar)
        continue;
      else if ((m == "sc" || m == "gl" || m == "cta" || m == "sys" ||
                m == "acq_rel") &&
               in.op == Op::Nop)
        continue;
      else {
        error = "modifier '" + m + "'";
        return false;
      }
    }
    if (in.op == Op::Mma) {
      // The one shape growc's kernels use: bf16 inputs, f32 accumulators.
      if (types.size() != 4 || types[0] != Ty::F32 || types[1] != Ty::BF16 ||
          types[2] != Ty::BF16 || types[3] != Ty::F32 ||
          opcode.find(".m16n8k16.row.col.") == std::string::npos) {
        error = "only mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32";
        return false;
      }
      in.type = Ty::F32;
      return true;
    }
    if (in.op == Op::Ldmatrix && (opcode.find(".m8n8.") == std::string::npos ||
                                  (in.space != Space::Shared))) {
      error = "only ldmatrix.sync.aligned.m8n8 from shared memory";
      return false;
    }
    if (in.op == Op::Cvt) {
      if (types.size() != 2) {
        error = "cvt needs two types";
        return false;
      }
      in.type = types[0];
      in.type2 = types[1];
    } else if (types.size() == 1) {
      in.type = types[0];
    } else if (types.size() > 1) {
      error = "more than one type";
      return false;
    } else if (in.op != Op::Bra && in.op != Op::Ret && in.op != Op::Bar &&
               in.op != Op::Nop) {
      error = "no type";
      return false;
    }
    if (in.op == Op::Cvta || in.op == Op::Mov || in.op == Op::Ld ||
        in.op == Op::St)
      if (in.type == Ty::None) {
        error = "no type";
        return false;
      }
    if (in.type == Ty::BF16 && in.op != Op::Cvt && in.op != Op::Ld &&
        in.op != Op::St && in.op != Op::Mov) {
      error = "bf16 arithmetic";
      return false;
    }
    if (in.type == Ty::BF16X2 &&
        !(in.op == Op::Mov || (in.op == Op::Cvt && in.type2 == Ty::F32))) {
      error = "bf16x2 other than cvt from f32 or mov";
      return false;
    }
    if (in.type2 == Ty::BF16 && in.type != Ty::F32) {
      error = "conversion from bf16 other than to f32";
      return false;
    }
    return true;
  }

public:
  void resolveDynamic() {
    for (auto &[index, op] : dynamicUses)
      k.code[index].ops[op].imm = k.dynamicOffset;
  }

private:
  Module::Impl &module;
  Kernel &k;
  std::unordered_map<std::string, int32_t> registers;
  std::unordered_map<std::string, uint64_t> params, shared, local;
  std::vector<std::string> dynamicNames;
  std::unordered_map<std::string, int> labels;
  std::vector<std::pair<size_t, std::string>> branches;
  std::vector<long> pendingDynamic;
  std::vector<std::pair<size_t, int>> dynamicUses;
};

} // namespace

Module::Module(std::unique_ptr<Impl> impl) : impl(std::move(impl)) {}
Module::~Module() = default;

std::unique_ptr<Module> Module::parse(const std::string &text,
                                      std::string &error) {
  auto impl = std::make_unique<Impl>();
  std::vector<Statement> all = statements(text);
  auto fail = [&](const Statement &s, const std::string &message) {
    error = "PTX line " + std::to_string(s.line) + ": " + message;
    return nullptr;
  };
  for (size_t i = 0; i < all.size(); ++i) {
    const Statement &s = all[i];
    if (s.kind == Statement::Plain) {
      const std::string &t = s.text;
      if (t.rfind(".version", 0) == 0 || t.rfind(".target", 0) == 0 ||
          t.rfind(".file", 0) == 0 || t.rfind(".loc", 0) == 0)
        continue;
      if (t.rfind(".address_size", 0) == 0) {
        if (t.find("64") == std::string::npos)
          return fail(s, "only 64-bit addresses are supported");
        continue;
      }
      if (t.find(".entry") != std::string::npos ||
          t.find(".func") != std::string::npos)
        return fail(s, "a function without a body");
      VarDecl d;
      std::string why;
      if (!parseVariable(t, d, why))
        return fail(s, why);
      if (d.var.space == Space::Shared)
        impl->moduleShared.emplace_back(d.name, d.var);
      else if (d.var.space == Space::Global || d.var.space == Space::Const)
        impl->globals[d.name] = d.var.init;
      else
        return fail(s, "module-scope local variable '" + d.name + "'");
      continue;
    }
    if (s.kind != Statement::Open)
      return fail(s, "unexpected brace");
    if (s.text.find(".func") != std::string::npos)
      return fail(s, "device functions (.func) are not supported");
    if (s.text.find(".entry") == std::string::npos)
      return fail(s, "unexpected block");
    auto kernel = std::make_unique<Kernel>();
    KernelParser parser(*impl, *kernel);
    std::string why;
    if (!parser.header(s.text, why))
      return fail(s, why);
    int depth = 1;
    size_t j = i + 1;
    for (; j < all.size() && depth > 0; ++j) {
      if (all[j].kind == Statement::Open) {
        ++depth;
        continue;
      }
      if (all[j].kind == Statement::Close) {
        --depth;
        continue;
      }
      if (!parser.statement(all[j], why))
        return fail(all[j], why);
    }
    if (depth != 0)
      return fail(s, "the entry '" + kernel->name + "' is not closed");
    if (!parser.finish(why))
      return fail(s, why);
    parser.resolveDynamic();
    impl->kernels.push_back(std::move(kernel));
    i = j - 1;
  }
  return std::unique_ptr<Module>(new Module(std::move(impl)));
}

const Kernel *Module::find(const std::string &name) const {
  for (const auto &k : impl->kernels)
    if (k->name == name)
      return k.get();
  return nullptr;
}
std::vector<unsigned> Module::paramSizes(const Kernel &k) {
  return k.paramSizes;
}
unsigned Module::maxThreads(const Kernel &k) { return k.maxThreads; }
uint64_t Module::staticShared(const Kernel &k) { return k.staticShared; }

bool Module::findGlobal(uint64_t address, uint64_t &base,
                        uint64_t &size) const {
  for (const auto &[name, memory] : impl->globals) {
    uint64_t start = reinterpret_cast<uint64_t>(memory.data());
    if (address >= start && address < start + memory.size()) {
      base = start;
      size = memory.size();
      return true;
    }
  }
  return false;
}

//===----------------------------------------------------------------------===//
// Execution
//===----------------------------------------------------------------------===//

namespace {

uint64_t mask(unsigned bits) {
  return bits >= 64 ? ~uint64_t(0) : (uint64_t(1) << bits) - 1;
}
int64_t signExtend(uint64_t v, unsigned bits) {
  if (bits >= 64)
    return int64_t(v);
  uint64_t m = uint64_t(1) << (bits - 1);
  v &= mask(bits);
  return int64_t((v ^ m) - m);
}
float asF32(uint64_t v) {
  uint32_t b = uint32_t(v);
  float f;
  std::memcpy(&f, &b, 4);
  return f;
}
uint64_t ofF32(float f) {
  uint32_t b;
  std::memcpy(&b, &f, 4);
  return b;
}
double asF64(uint64_t v) {
  double d;
  std::memcpy(&d, &v, 8);
  return d;
}
uint64_t ofF64(double d) {
  uint64_t b;
  std::memcpy(&b, &d, 8);
  return b;
}
float flush(float f) {
  return std::fpclassify(f) == FP_SUBNORMAL ? std::copysign(0.0f, f) : f;
}
uint16_t toBf16(float f, uint8_t rounding) {
  uint32_t bits = uint32_t(ofF32(f));
  if (std::isnan(f))
    return 0x7fff;
  if (rounding == Rz)
    return uint16_t(bits >> 16);
  bits += 0x7fff + ((bits >> 16) & 1);
  return uint16_t(bits >> 16);
}

/// Runs `f` under the rounding mode `r` (nearest when none is given).
template <typename F> auto rounded(uint8_t r, F f) {
  int mode = r == Rz   ? FE_TOWARDZERO
             : r == Rm ? FE_DOWNWARD
             : r == Rp ? FE_UPWARD
                       : FE_TONEAREST;
  if (mode == FE_TONEAREST)
    return f();
  std::fesetround(mode);
  auto result = f();
  std::fesetround(FE_TONEAREST);
  return result;
}

double roundToIntegral(double x, uint8_t r) {
  switch (r) {
  case Rzi:
    return std::trunc(x);
  case Rmi:
    return std::floor(x);
  case Rpi:
    return std::ceil(x);
  default:
    return std::nearbyint(x); // .rni: to nearest even
  }
}

struct Thread {
  uint64_t *regs;
  uint64_t local;
  uint32_t pc = 0;
  bool carry = false;
  enum : uint8_t { Running, Waiting, AtCollective, Done } state = Running;
  unsigned tid[3];
  int32_t index = 0; // in the block
};

/// What a 2-byte granule of shared memory saw since the last barrier:
/// the thread that wrote it and the thread(s) that read it, each with the
/// barrier interval ("epoch") it happened in.
struct Shadow {
  uint32_t writeEpoch = 0, readEpoch = 0;
  int32_t writer = -1, reader = -1; // reader -2: several threads
};
constexpr int32_t kSeveralReaders = -2;

class Executor {
public:
  Executor(const Module &module, const Kernel &k, const Launch &launch,
           const GlobalCheck &isGlobal)
      : module(module), k(k), launch(launch), isGlobal(isGlobal) {}

  std::string run() {
    unsigned threads = launch.block[0] * launch.block[1] * launch.block[2];
    if (threads == 0 || threads > 1024)
      return "a block of " + std::to_string(threads) + " threads";
    if (k.maxThreads && threads > k.maxThreads)
      return "a block of " + std::to_string(threads) +
             " threads, more than the kernel's .maxntid " +
             std::to_string(k.maxThreads);
    if (k.staticShared > 48 * 1024)
      return "more than 48 KiB of static shared memory";
    if (launch.params.size() < k.paramBytes)
      return "parameters of " + std::to_string(launch.params.size()) +
             " bytes for a kernel that takes " + std::to_string(k.paramBytes);
    sharedBytes = k.usesDynamicShared ? k.dynamicOffset + launch.dynamicShared
                                      : k.staticShared;
    shared.assign(std::max<uint64_t>(sharedBytes, 1), 0);
    shadow.assign(sharedBytes / 2 + 1, Shadow{});
    registers.assign(size_t(threads) * std::max(1u, k.registers), 0);
    local.assign(size_t(threads) * std::max<uint64_t>(k.localBytes, 1), 0);
    pool.resize(threads);
    for (unsigned z = 0; z < launch.grid[2]; ++z)
      for (unsigned y = 0; y < launch.grid[1]; ++y)
        for (unsigned x = 0; x < launch.grid[0]; ++x) {
          ctaid[0] = x, ctaid[1] = y, ctaid[2] = z;
          if (std::string e = block(threads); !e.empty())
            return e;
        }
    return "";
  }

private:
  std::string block(unsigned threads) {
    std::fill(shared.begin(), shared.end(), 0);
    std::fill(registers.begin(), registers.end(), 0);
    std::fill(local.begin(), local.end(), 0);
    for (unsigned i = 0; i < threads; ++i) {
      Thread &t = pool[i];
      t = Thread{};
      t.regs = registers.data() + size_t(i) * std::max(1u, k.registers);
      t.local = reinterpret_cast<uint64_t>(local.data()) +
                i * std::max<uint64_t>(k.localBytes, 1);
      t.tid[0] = i % launch.block[0];
      t.tid[1] = (i / launch.block[0]) % launch.block[1];
      t.tid[2] = i / (launch.block[0] * launch.block[1]);
      t.index = int32_t(i);
    }
    unsigned live = threads;
    ++epoch;
    auto where = [&](const Thread &t) {
      return " (thread " + std::to_string(t.tid[0]) + "," +
             std::to_string(t.tid[1]) + "," + std::to_string(t.tid[2]) +
             " of block " + std::to_string(ctaid[0]) + "," +
             std::to_string(ctaid[1]) + "," + std::to_string(ctaid[2]) + ")";
    };
    // Each pass runs every running thread to a barrier, a warp-collective
    // instruction or its end. Then warps whose lanes all wait at the same
    // collective run it and go on; when nothing can go on, every live
    // thread waits at the barrier, which releases.
    for (;;) {
      for (unsigned i = 0; i < threads; ++i) {
        Thread &t = pool[i];
        if (t.state != Thread::Running)
          continue;
        if (std::string e = step(t); !e.empty())
          return e + where(t);
        if (t.state == Thread::Done)
          --live;
      }
      bool resumed = false;
      for (unsigned first = 0; first < threads; first += 32) {
        unsigned end = std::min(threads, first + 32);
        bool any = false, all = true;
        for (unsigned i = first; i < end; ++i) {
          if (pool[i].state == Thread::AtCollective)
            any = true;
          else if (pool[i].state != Thread::Done)
            all = false;
        }
        if (!any || !all)
          continue;
        if (std::string e = collective(first, end); !e.empty())
          return e + where(pool[first]);
        resumed = true;
      }
      if (resumed)
        continue;
      if (live == 0)
        return "";
      for (unsigned i = 0; i < threads; ++i)
        if (pool[i].state == Thread::AtCollective)
          return "kernel '" + k.name + "', PTX line " +
                 std::to_string(k.code[pool[i].pc].line) +
                 ": a warp-collective instruction that not every lane of "
                 "the warp reached (the others wait at a barrier)" +
                 where(pool[i]);
      ++epoch;
      for (unsigned i = 0; i < threads; ++i)
        if (pool[i].state == Thread::Waiting)
          pool[i].state = Thread::Running;
    }
  }

  static float bf16ToFloat(uint64_t bits) {
    return asF32((bits & 0xffff) << 16);
  }

  /// Runs the collective instruction the lanes [first, end) of a warp wait
  /// at, as the PTX ISA defines it for the whole warp, and resumes them.
  std::string collective(unsigned first, unsigned end) {
    const Inst &in = k.code[pool[first].pc];
    std::vector<Thread *> lanes(32, nullptr);
    for (unsigned i = first; i < end; ++i) {
      if (pool[i].state != Thread::AtCollective)
        continue;
      if (&k.code[pool[i].pc] != &in)
        return "kernel '" + k.name + "', PTX line " + std::to_string(in.line) +
               ": the lanes of a warp wait at different collective "
               "instructions (lines " +
               std::to_string(in.line) + " and " +
               std::to_string(k.code[pool[i].pc].line) + ")";
      lanes[i - first] = &pool[i];
    }
    auto fail = [&](const std::string &why) {
      return "kernel '" + k.name + "', PTX line " + std::to_string(in.line) +
             ": " + why;
    };
    bool whole = std::all_of(lanes.begin(), lanes.end(),
                             [](Thread *t) { return t != nullptr; });
    if (in.op == Op::Shfl) {
      uint32_t values[32] = {};
      for (unsigned l = 0; l < 32; ++l)
        if (lanes[l])
          values[l] = uint32_t(value(in.ops[1], *lanes[l]));
      for (unsigned lane = 0; lane < 32; ++lane) {
        Thread *t = lanes[lane];
        if (!t)
          continue;
        uint32_t b = uint32_t(value(in.ops[2], *t)) & 31;
        uint32_t c = uint32_t(value(in.ops[3], *t));
        uint32_t clamp = c & 31, segmask = (c >> 8) & 31;
        uint32_t maxLane = (lane & segmask) | (clamp & ~segmask);
        uint32_t minLane = lane & segmask;
        int32_t j;
        bool inRange;
        switch (in.mode) {
        case 0: // up
          j = int32_t(lane) - int32_t(b);
          inRange = j >= int32_t(maxLane);
          break;
        case 1: // down
          j = int32_t(lane + b);
          inRange = j <= int32_t(maxLane);
          break;
        case 2: // bfly
          j = int32_t(lane ^ b);
          inRange = j <= int32_t(maxLane);
          break;
        default: // idx
          j = int32_t(minLane | (b & ~segmask));
          inRange = j <= int32_t(maxLane);
          break;
        }
        if (!inRange)
          j = int32_t(lane);
        if (!lanes[j])
          return fail("shfl reads lane " + std::to_string(j) +
                      ", which is not taking part");
        write(*t, in.ops[0], values[j], Ty::B32);
        if (in.predicate >= 0)
          t->regs[in.predicate] = inRange;
      }
    } else if (in.op == Op::Mma) {
      if (!whole)
        return fail("mma.sync needs all 32 lanes of the warp");
      // Fragments of m16n8k16 with bf16 A (row-major) and B (column-major),
      // f32 C/D (PTX ISA, "Matrix Fragments for mma.m16n8k16"): lane l
      // has group g = l / 4 and index q = l % 4 in it.
      double a[16][16], b[16][8], c[16][8];
      for (unsigned l = 0; l < 32; ++l) {
        const Thread &t = *lanes[l];
        unsigned g = l / 4, q = l % 4;
        for (unsigned i = 0; i < 8; ++i) {
          uint64_t reg = t.regs[in.ops[1].regs[i / 2]] >> (16 * (i % 2));
          unsigned row = g + ((i / 2) % 2) * 8,
                   col = 2 * q + i % 2 + (i / 4) * 8;
          a[row][col] = bf16ToFloat(reg);
        }
        for (unsigned i = 0; i < 4; ++i) {
          uint64_t reg = t.regs[in.ops[2].regs[i / 2]] >> (16 * (i % 2));
          b[2 * q + i % 2 + (i / 2) * 8][g] = bf16ToFloat(reg);
          c[g + (i / 2) * 8][2 * q + i % 2] = asF32(t.regs[in.ops[3].regs[i]]);
        }
      }
      for (unsigned l = 0; l < 32; ++l) {
        unsigned g = l / 4, q = l % 4;
        for (unsigned i = 0; i < 4; ++i) {
          unsigned row = g + (i / 2) * 8, col = 2 * q + i % 2;
          double sum = c[row][col];
          for (unsigned kk = 0; kk < 16; ++kk)
            sum += a[row][kk] * b[kk][col];
          lanes[l]->regs[in.ops[0].regs[i]] = ofF32(float(sum));
        }
      }
    } else { // ldmatrix
      if (!whole)
        return fail("ldmatrix needs all 32 lanes of the warp");
      // Matrix m's row r is at the address lane 8m + r gives; each row is
      // eight b16.
      uint16_t m[4][8][8];
      for (unsigned mat = 0; mat < in.matrices; ++mat)
        for (unsigned r = 0; r < 8; ++r) {
          Thread &t = *lanes[8 * mat + r];
          uint64_t address = value(in.ops[1], t) + uint64_t(in.ops[1].offset);
          if (!accessible(Space::Shared, address, 16, t))
            return fail("out-of-bounds ldmatrix row at lane " +
                        std::to_string(8 * mat + r));
          if (address % 16 != 0)
            return fail("ldmatrix row at lane " + std::to_string(8 * mat + r) +
                        " is not 16-byte aligned");
          Inst read = in;
          read.op = Op::Ld;
          if (std::string race = checkRace(read, t, address, 16); !race.empty())
            return race;
          std::memcpy(m[mat][r], reinterpret_cast<void *>(address), 16);
        }
      for (unsigned l = 0; l < 32; ++l)
        for (unsigned mat = 0; mat < in.matrices; ++mat) {
          unsigned row = l / 4, col = 2 * (l % 4);
          uint64_t lo = in.transposed ? m[mat][col][row] : m[mat][row][col];
          uint64_t hi =
              in.transposed ? m[mat][col + 1][row] : m[mat][row][col + 1];
          lanes[l]->regs[in.ops[0].regs[mat]] = lo | hi << 16;
        }
    }
    for (Thread *t : lanes)
      if (t) {
        ++t->pc;
        t->state = Thread::Running;
      }
    return "";
  }

  uint64_t special(uint8_t s, const Thread &t) const {
    switch (s) {
    case TidX:
      return t.tid[0];
    case TidY:
      return t.tid[1];
    case TidZ:
      return t.tid[2];
    case NtidX:
      return launch.block[0];
    case NtidY:
      return launch.block[1];
    case NtidZ:
      return launch.block[2];
    case CtaidX:
      return ctaid[0];
    case CtaidY:
      return ctaid[1];
    case CtaidZ:
      return ctaid[2];
    case NctaidX:
      return launch.grid[0];
    case NctaidY:
      return launch.grid[1];
    case NctaidZ:
      return launch.grid[2];
    case LaneId:
      return t.tid[0] % 32;
    default:
      return t.tid[0] / 32;
    }
  }

  uint64_t value(const Operand &o, const Thread &t) const {
    switch (o.kind) {
    case Kind::Reg:
      return t.regs[o.reg];
    case Kind::Imm:
      return o.imm;
    case Kind::Shared:
      return reinterpret_cast<uint64_t>(shared.data()) + o.imm;
    case Kind::Local:
      return t.local + o.imm;
    case Kind::Global:
      return o.imm;
    case Kind::Param:
      return reinterpret_cast<uint64_t>(launch.params.data()) + o.imm;
    case Kind::Special:
      return special(o.special, t);
    default:
      return 0;
    }
  }

  bool inside(uint64_t address, uint64_t bytes, uint64_t base,
              uint64_t size) const {
    return address >= base && address + bytes <= base + size;
  }

  /// Whether an access of `bytes` at `address` in `space` is in bounds.
  bool accessible(Space space, uint64_t address, uint64_t bytes,
                  const Thread &t) const {
    uint64_t sharedBase = reinterpret_cast<uint64_t>(shared.data());
    bool inShared = inside(address, bytes, sharedBase, sharedBytes);
    bool inLocal = inside(address, bytes, t.local, k.localBytes);
    bool inParam =
        inside(address, bytes, reinterpret_cast<uint64_t>(launch.params.data()),
               k.paramBytes);
    auto inGlobal = [&] {
      // Most accesses hit the allocation the last one did.
      if (inside(address, bytes, lastGlobalBase, lastGlobalSize))
        return true;
      uint64_t base = 0, size = 0;
      if (!module.findGlobal(address, base, size) &&
          !isGlobal(address, base, size))
        return false;
      lastGlobalBase = base;
      lastGlobalSize = size;
      return inside(address, bytes, base, size);
    };
    switch (space) {
    case Space::Shared:
      return inShared;
    case Space::Local:
      return inLocal;
    case Space::Param:
      return inParam;
    case Space::Global:
    case Space::Const:
      return inGlobal();
    case Space::Generic:
      return inShared || inLocal || inGlobal();
    }
    return false;
  }

  void write(Thread &t, const Operand &d, uint64_t v, Ty type) {
    if (d.kind == Kind::Reg)
      t.regs[d.reg] = v & mask(bitsOf(type));
  }

  uint64_t integer(const Inst &in, uint64_t a, uint64_t b, uint64_t c,
                   Thread &t) {
    unsigned w = bitsOf(in.type);
    bool s = isSigned(in.type);
    int64_t sa = signExtend(a, w), sb = signExtend(b, w);
    uint64_t ua = a & mask(w), ub = b & mask(w);
    switch (in.op) {
    case Op::Add:
      return ua + ub;
    case Op::Sub:
      return ua - ub;
    case Op::Mul:
    case Op::Mad:
    case Op::Madc: {
      uint64_t product, high;
      if (in.wide) {
        product = s ? uint64_t(sa * sb) : ua * ub;
        high = 0;
      } else if (w == 64) {
        __int128 p =
            s ? __int128(sa) * sb : __int128((unsigned __int128)ua * ub);
        product = uint64_t(p);
        high = uint64_t((unsigned __int128)p >> 64);
      } else {
        uint64_t p = s ? uint64_t(sa * sb) : ua * ub;
        product = p & mask(w);
        high = (p >> w) & mask(w);
      }
      uint64_t r = in.hi ? high : product;
      if (in.op == Op::Mul)
        return r;
      unsigned rw = in.wide ? 2 * w : w;
      uint64_t addend = c & mask(rw);
      uint64_t carryIn = in.op == Op::Madc && t.carry ? 1 : 0;
      uint64_t sum = (r & mask(rw)) + addend + carryIn;
      if (in.cc)
        t.carry = rw == 64 ? (sum < addend || (carryIn && sum == addend))
                           : (sum >> rw) & 1;
      return sum;
    }
    case Op::Div:
      if (ub == 0)
        return ~uint64_t(0);
      return s ? uint64_t(sa / sb) : ua / ub;
    case Op::Rem:
      if (ub == 0)
        return ua;
      return s ? uint64_t(sa % sb) : ua % ub;
    case Op::Min:
      return s ? uint64_t(std::min(sa, sb)) : std::min(ua, ub);
    case Op::Max:
      return s ? uint64_t(std::max(sa, sb)) : std::max(ua, ub);
    case Op::Neg:
      return uint64_t(-sa);
    case Op::Abs:
      return uint64_t(sa < 0 ? -sa : sa);
    default:
      return 0;
    }
  }

  float f32(const Inst &in, uint64_t bits) const {
    float f = asF32(bits);
    return in.ftz ? flush(f) : f;
  }
  uint64_t resultF32(const Inst &in, float r) const {
    if (in.sat)
      r = std::isnan(r) ? 0.0f : std::min(1.0f, std::max(0.0f, r));
    if (in.ftz)
      r = flush(r);
    return ofF32(r);
  }

  uint64_t floating(const Inst &in, uint64_t a, uint64_t b, uint64_t c) {
    if (in.type == Ty::F64) {
      double x = asF64(a), y = asF64(b), z = asF64(c);
      switch (in.op) {
      case Op::Add:
        return ofF64(rounded(in.rounding, [&] {
          volatile double r = x + y;
          return double(r);
        }));
      case Op::Sub:
        return ofF64(rounded(in.rounding, [&] {
          volatile double r = x - y;
          return double(r);
        }));
      case Op::Mul:
        return ofF64(rounded(in.rounding, [&] {
          volatile double r = x * y;
          return double(r);
        }));
      case Op::Fma:
      case Op::Mad:
        return ofF64(rounded(in.rounding, [&] { return std::fma(x, y, z); }));
      case Op::Div:
        return ofF64(x / y);
      case Op::Rcp:
        return ofF64(1.0 / x);
      case Op::Sqrt:
        return ofF64(std::sqrt(x));
      case Op::Rsqrt:
        return ofF64(1.0 / std::sqrt(x));
      case Op::Neg:
        return ofF64(-x);
      case Op::Abs:
        return ofF64(std::fabs(x));
      case Op::Min:
        return ofF64(std::isnan(x) || std::isnan(y)
                         ? (in.nanMode ? NAN : std::fmin(x, y))
                         : std::min(x, y));
      case Op::Max:
        return ofF64(std::isnan(x) || std::isnan(y)
                         ? (in.nanMode ? NAN : std::fmax(x, y))
                         : std::max(x, y));
      default:
        return 0;
      }
    }
    float x = f32(in, a), y = f32(in, b), z = f32(in, c);
    float r = 0;
    switch (in.op) {
    case Op::Add:
      r = rounded(in.rounding, [&] {
        volatile float v = x + y;
        return float(v);
      });
      break;
    case Op::Sub:
      r = rounded(in.rounding, [&] {
        volatile float v = x - y;
        return float(v);
      });
      break;
    case Op::Mul:
      r = rounded(in.rounding, [&] {
        volatile float v = x * y;
        return float(v);
      });
      break;
    case Op::Fma:
    case Op::Mad:
      r = rounded(in.rounding, [&] { return std::fma(x, y, z); });
      break;
    case Op::Div:
      r = x / y;
      break;
    case Op::Rcp:
      r = 1.0f / x;
      break;
    case Op::Sqrt:
      r = std::sqrt(x);
      break;
    case Op::Rsqrt:
      r = 1.0f / std::sqrt(x);
      break;
    case Op::Ex2:
      r = std::exp2(x);
      break;
    case Op::Lg2:
      r = std::log2(x);
      break;
    case Op::Sin:
      r = std::sin(x);
      break;
    case Op::Cos:
      r = std::cos(x);
      break;
    case Op::Tanh:
      r = std::tanh(x);
      break;
    case Op::Neg:
      r = -x;
      break;
    case Op::Abs:
      r = std::fabs(x);
      break;
    case Op::Min:
    case Op::Max: {
      bool nx = std::isnan(x), ny = std::isnan(y);
      if (nx || ny) {
        r = in.nanMode ? std::numeric_limits<float>::quiet_NaN() : (nx ? y : x);
        break;
      }
      if (x == y) // -0 is below +0
        r = (in.op == Op::Min) == std::signbit(x) ? x : y;
      else
        r = in.op == Op::Min ? std::min(x, y) : std::max(x, y);
      break;
    }
    default:
      break;
    }
    return resultF32(in, r);
  }

  bool compare(const Inst &in, uint64_t a, uint64_t b) const {
    if (isFloat(in.type)) {
      double x = in.type == Ty::F64 ? asF64(a) : double(f32(in, a));
      double y = in.type == Ty::F64 ? asF64(b) : double(f32(in, b));
      bool unordered = std::isnan(x) || std::isnan(y);
      switch (in.cmp) {
      case CEq:
        return !unordered && x == y;
      case CNe:
        return !unordered && x != y;
      case CLt:
        return !unordered && x < y;
      case CLe:
        return !unordered && x <= y;
      case CGt:
        return !unordered && x > y;
      case CGe:
        return !unordered && x >= y;
      case CEqu:
        return unordered || x == y;
      case CNeu:
        return unordered || x != y;
      case CLtu:
        return unordered || x < y;
      case CLeu:
        return unordered || x <= y;
      case CGtu:
        return unordered || x > y;
      case CGeu:
        return unordered || x >= y;
      case CNum:
        return !unordered;
      case CNan:
        return unordered;
      default:
        return false;
      }
    }
    unsigned w = bitsOf(in.type);
    if (in.type == Ty::Pred)
      w = 1;
    int64_t sa = signExtend(a, w), sb = signExtend(b, w);
    uint64_t ua = a & mask(w), ub = b & mask(w);
    bool s = isSigned(in.type);
    switch (in.cmp) {
    case CEq:
      return ua == ub;
    case CNe:
      return ua != ub;
    case CLt:
      return s ? sa < sb : ua < ub;
    case CLe:
      return s ? sa <= sb : ua <= ub;
    case CGt:
      return s ? sa > sb : ua > ub;
    case CGe:
      return s ? sa >= sb : ua >= ub;
    case CLo:
      return ua < ub;
    case CLs:
      return ua <= ub;
    case CHi:
      return ua > ub;
    case CHs:
      return ua >= ub;
    default:
      return false;
    }
  }

  uint64_t convert(const Inst &in, uint64_t v) const {
    Ty d = in.type, s = in.type2;
    if (isFloat(s)) {
      double x;
      if (s == Ty::BF16)
        x = asF32(uint64_t(uint16_t(v)) << 16);
      else if (s == Ty::F32)
        x = in.ftz ? flush(asF32(v)) : asF32(v);
      else
        x = asF64(v);
      if (in.rounding >= Rni)
        x = roundToIntegral(x, in.rounding);
      if (d == Ty::F32) {
        float f = s == Ty::F64 ? rounded(in.rounding,
                                         [&] {
                                           volatile float r = float(x);
                                           return float(r);
                                         })
                               : float(x);
        return resultF32(in, f);
      }
      if (d == Ty::F64)
        return ofF64(x);
      if (d == Ty::BF16)
        return toBf16(float(x), in.rounding);
      // Float to integer: saturating, NaN to zero.
      unsigned w = bitsOf(d);
      if (std::isnan(x))
        return 0;
      if (in.rounding < Rni)
        x = roundToIntegral(x, Rzi);
      if (isSigned(d)) {
        double lo = -std::ldexp(1.0, int(w) - 1), hi = -lo;
        if (x <= lo)
          return uint64_t(int64_t(lo)) & mask(w);
        if (x >= hi)
          return mask(w - 1);
        return uint64_t(int64_t(x)) & mask(w);
      }
      double hi = std::ldexp(1.0, int(w));
      if (x <= 0)
        return 0;
      if (x >= hi)
        return mask(w);
      return uint64_t(x) & mask(w);
    }
    unsigned sw = bitsOf(s);
    int64_t sv = signExtend(v, sw);
    uint64_t uv = v & mask(sw);
    if (d == Ty::F32)
      return ofF32(isSigned(s) ? float(sv) : float(uv));
    if (d == Ty::F64)
      return ofF64(isSigned(s) ? double(sv) : double(uv));
    unsigned dw = bitsOf(d);
    uint64_t r = isSigned(s) ? uint64_t(sv) : uv;
    if (in.sat) {
      if (isSigned(d)) {
        int64_t lo = -(int64_t(1) << (dw - 1)),
                hi = (int64_t(1) << (dw - 1)) - 1;
        int64_t x =
            isSigned(s) ? sv : int64_t(std::min<uint64_t>(uv, INT64_MAX));
        r = uint64_t(std::min(hi, std::max(lo, x)));
      } else {
        if (isSigned(s) && sv < 0)
          r = 0;
        else
          r = std::min<uint64_t>(uv, mask(dw));
      }
    }
    return r & mask(dw);
  }

  /// Threads run one at a time, so a kernel that reads shared memory
  /// another thread wrote without a barrier in between would still get
  /// the value here; on a GPU it races. Like compute-sanitizer's racecheck,
  /// every shared access is checked against what other threads did to
  /// the same bytes since the last barrier.
  std::string checkRace(const Inst &in, const Thread &t, uint64_t address,
                        uint64_t bytes) {
    uint64_t base = reinterpret_cast<uint64_t>(shared.data());
    if (address < base || address >= base + sharedBytes)
      return "";
    bool store = in.op == Op::St;
    for (uint64_t g = (address - base) / 2;
         g < (address - base + bytes + 1) / 2; ++g) {
      Shadow &s = shadow[g];
      int32_t other = -1;
      const char *what = nullptr;
      if (s.writeEpoch == epoch && s.writer != t.index) {
        other = s.writer;
        what = store ? "writes shared memory that thread %d wrote"
                     : "reads shared memory that thread %d wrote";
      } else if (store && s.readEpoch == epoch && s.reader != t.index) {
        other = s.reader;
        what = "writes shared memory that thread %d read";
      }
      if (what) {
        char message[160];
        std::snprintf(message, sizeof message, what,
                      other == kSeveralReaders ? -1 : int(other));
        std::string text = message;
        if (other == kSeveralReaders)
          text.replace(text.find("thread -1"), 9, "other threads");
        return "kernel '" + k.name + "', PTX line " + std::to_string(in.line) +
               ": shared-memory race: this thread " + text +
               " since the last barrier (offset " + std::to_string(2 * g) + ")";
      }
      if (store) {
        s.writeEpoch = epoch;
        s.writer = t.index;
      } else if (s.readEpoch != epoch) {
        s.readEpoch = epoch;
        s.reader = t.index;
      } else if (s.reader != t.index) {
        s.reader = kSeveralReaders;
      }
    }
    return "";
  }

  /// Runs `t` to its next barrier or its end.
  std::string step(Thread &t) {
    const Inst *code = k.code.data();
    for (uint64_t budget = uint64_t(1) << 32; budget; --budget) {
      const Inst &in = code[t.pc++];
      if (in.guard >= 0 && (bool(t.regs[in.guard] & 1) == in.guardNegated))
        continue;
      const Operand &d = in.ops[0];
      switch (in.op) {
      case Op::Bra:
        t.pc = uint32_t(in.target);
        continue;
      case Op::Ret:
        t.state = Thread::Done;
        return "";
      case Op::Bar:
        t.state = Thread::Waiting;
        return "";
      case Op::Nop:
        continue;
      case Op::Shfl:
      case Op::Mma:
      case Op::Ldmatrix:
        // The warp's lanes meet here; block() runs it for all of them.
        --t.pc;
        t.state = Thread::AtCollective;
        return "";
      case Op::Ld:
      case Op::St: {
        const Operand &m = in.op == Op::Ld ? in.ops[1] : in.ops[0];
        const Operand &r = in.op == Op::Ld ? in.ops[0] : in.ops[1];
        uint64_t address = value(m, t) + uint64_t(m.offset);
        unsigned bytes = std::max(1u, bitsOf(in.type) / 8);
        unsigned lanes = r.kind == Kind::Vector ? r.count : 1;
        if (!accessible(in.space, address, uint64_t(bytes) * lanes, t))
          return "kernel '" + k.name + "', PTX line " +
                 std::to_string(in.line) + ": out-of-bounds " +
                 (in.op == Op::Ld ? "load" : "store") + " of " +
                 std::to_string(bytes * lanes) + " bytes at 0x" + [&] {
                   std::ostringstream s;
                   s << std::hex << address;
                   return s.str();
                 }();
        // PTX requires accesses aligned to their size (a vector's whole
        // size); a GPU faults on a misaligned one.
        if (address % (uint64_t(bytes) * lanes) != 0)
          return "kernel '" + k.name + "', PTX line " +
                 std::to_string(in.line) + ": misaligned " +
                 (in.op == Op::Ld ? "load" : "store") + " of " +
                 std::to_string(bytes * lanes) + " bytes at offset " +
                 std::to_string(address % 256) + " mod 256";
        if (std::string race = checkRace(in, t, address, bytes * lanes);
            !race.empty())
          return race;
        for (unsigned lane = 0; lane < lanes; ++lane) {
          void *at = reinterpret_cast<void *>(address + lane * bytes);
          int32_t reg = r.kind == Kind::Vector ? r.regs[lane] : r.reg;
          if (in.op == Op::Ld) {
            uint64_t v = 0;
            std::memcpy(&v, at, bytes);
            if (isSigned(in.type))
              v = uint64_t(signExtend(v, bytes * 8));
            if (reg >= 0)
              t.regs[reg] = v;
          } else {
            uint64_t v = r.kind == Kind::Reg || r.kind == Kind::Vector
                             ? (reg >= 0 ? t.regs[reg] : 0)
                             : value(r, t);
            std::memcpy(at, &v, bytes);
          }
        }
        continue;
      }
      case Op::Mov: {
        const Operand &a = in.ops[1];
        if (d.kind == Kind::Vector) { // unpack
          uint64_t v = value(a, t);
          unsigned part = bitsOf(in.type) / d.count;
          for (unsigned i = 0; i < d.count; ++i)
            if (d.regs[i] >= 0)
              t.regs[d.regs[i]] = (v >> (i * part)) & mask(part);
          continue;
        }
        if (a.kind == Kind::Vector) { // pack
          unsigned part = bitsOf(in.type) / a.count;
          uint64_t v = 0;
          for (unsigned i = 0; i < a.count; ++i)
            v |= (t.regs[a.regs[i]] & mask(part)) << (i * part);
          write(t, d, v, in.type);
          continue;
        }
        write(t, d, value(a, t), in.type);
        continue;
      }
      case Op::Cvta:
        write(t, d, value(in.ops[1], t), in.type);
        continue;
      case Op::Cvt:
        if (in.type == Ty::BF16X2) { // a into the upper half, b the lower
          uint64_t hi = toBf16(f32(in, value(in.ops[1], t)), in.rounding);
          uint64_t lo = toBf16(f32(in, value(in.ops[2], t)), in.rounding);
          write(t, d, hi << 16 | lo, in.type);
          continue;
        }
        write(t, d, convert(in, value(in.ops[1], t)), in.type);
        continue;
      case Op::Setp:
        t.regs[d.reg] = compare(in, value(in.ops[1], t), value(in.ops[2], t));
        continue;
      case Op::Selp:
        write(t, d,
              (value(in.ops[3], t) & 1) ? value(in.ops[1], t)
                                        : value(in.ops[2], t),
              in.type);
        continue;
      default:
        break;
      }
      uint64_t a = in.count > 1 ? value(in.ops[1], t) : 0;
      uint64_t b = in.count > 2 ? value(in.ops[2], t) : 0;
      uint64_t c = in.count > 3 ? value(in.ops[3], t) : 0;
      unsigned w = bitsOf(in.type);
      uint64_t r = 0;
      switch (in.op) {
      case Op::And:
        r = a & b;
        break;
      case Op::Or:
        r = a | b;
        break;
      case Op::Xor:
        r = a ^ b;
        break;
      case Op::Not:
        r = in.type == Ty::Pred ? !(a & 1) : ~a;
        break;
      case Op::Shl: {
        uint64_t n = b & 0xffffffff;
        r = n >= w ? 0 : a << n;
        break;
      }
      case Op::Shr: {
        uint64_t n = b & 0xffffffff;
        if (isSigned(in.type))
          r = uint64_t(signExtend(a, w) >> std::min<uint64_t>(n, w - 1));
        else
          r = n >= w ? 0 : (a & mask(w)) >> n;
        break;
      }
      case Op::Shf: {
        uint32_t lo = uint32_t(a), hi = uint32_t(b);
        uint32_t n = uint32_t(c);
        n = in.shfWrap ? n & 31 : std::min(n, 32u);
        uint64_t both = (uint64_t(hi) << 32) | lo;
        r = in.shfLeft ? uint32_t((both << n) >> 32) : uint32_t(both >> n);
        break;
      }
      case Op::Bfe: {
        unsigned pos = unsigned(b & 0xff), len = unsigned(c & 0xff);
        if (len == 0) {
          r = 0;
          break;
        }
        unsigned msb = w - 1;
        bool sbit =
            isSigned(in.type) && ((a >> std::min(pos + len - 1, msb)) & 1);
        for (unsigned i = 0; i <= msb; ++i) {
          bool bit = i < len && pos + i <= msb ? (a >> (pos + i)) & 1 : sbit;
          r |= uint64_t(bit) << i;
        }
        break;
      }
      case Op::Popc:
        r = uint64_t(__builtin_popcountll(a & mask(w)));
        break;
      case Op::Clz:
        r = (a & mask(w)) == 0
                ? w
                : uint64_t(__builtin_clzll(a & mask(w))) - (64 - w);
        break;
      default:
        if (isFloat(in.type))
          r = floating(in, a, b, c);
        else
          r = integer(in, a, b, c, t);
        break;
      }
      unsigned resultBits =
          (in.op == Op::Mul || in.op == Op::Mad) && in.wide ? 2 * w : w;
      if (in.op == Op::Popc || in.op == Op::Clz)
        resultBits = 32;
      if (d.kind == Kind::Reg)
        t.regs[d.reg] = r & mask(resultBits);
    }
    return "kernel '" + k.name + "' ran 2^32 instructions in one thread " +
           "without reaching a barrier or its end";
  }

  const Module &module;
  const Kernel &k;
  const Launch &launch;
  const GlobalCheck &isGlobal;
  std::vector<uint8_t> shared, local;
  std::vector<uint64_t> registers;
  std::vector<Thread> pool;
  uint64_t sharedBytes = 0;
  unsigned ctaid[3] = {0, 0, 0};
  std::vector<Shadow> shadow;
  uint32_t epoch = 0;
  /// The global allocation the last checked access was in.
  mutable uint64_t lastGlobalBase = 0, lastGlobalSize = 0;
};

} // namespace

std::string run(const Module &module, const Kernel &kernel,
                const Launch &launch, const GlobalCheck &isGlobal) {
  return Executor(module, kernel, launch, isGlobal).run();
}

} // namespace growc::ptx

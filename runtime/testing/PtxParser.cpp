//===- PtxParser.cpp - Parses PTX modules, for tests ----------------------===//
//
// Test infrastructure (see PtxInterpreter.h): a parser for the PTX that
// LLVM's NVPTX backend and nvcc emit for straight-line and looping SIMT
// kernels. Statements are split at the top level, module-scope variables
// laid out, and each kernel's instructions decoded into PtxParser.h's flat
// form; whatever the interpreter does not implement (an instruction, a
// modifier, an operand form) is a load error naming the line.
//
//===----------------------------------------------------------------------===//

#include "PtxParser.h"
#include "PtxStatements.h"

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <limits>
#include <sstream>
#include <unordered_map>

namespace growc::ptx {
namespace {

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
        if (std::isdigit(static_cast<unsigned char>(parts[i][0])) ||
            parts[i][0] == '-') {
          // A constant element (st.v4 of zeros: {0f00000000, ...}).
          o.regs[i] = -1;
          if (!parseImmediate(parts[i], o.constants[i])) {
            error = "malformed immediate '" + parts[i] + "'";
            return false;
          }
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
    if (!checkOperands(in, error))
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

  /// The operand forms of the atomics and cp.async, which the interpreter
  /// reads without further checks.
  static bool checkOperands(const Inst &in, std::string &error) {
    const Operand *o = in.ops;
    switch (in.op) {
    case Op::Red:
      if (in.vec > 1) {
        // red.v2/.v4: as many registers, braced, as the vector has.
        if (in.count == 2 && o[0].memory && o[1].kind == Kind::Vector &&
            o[1].count == in.vec &&
            std::all_of(o[1].regs, o[1].regs + in.vec,
                        [](int32_t r) { return r >= 0; }))
          return true;
        error = "red.v" + std::to_string(in.vec) + " takes [address], {" +
                (in.vec == 2 ? "a, b" : "a, b, c, d") + "} (registers)";
        return false;
      }
      if (in.count == 2 && o[0].memory && !o[1].memory &&
          o[1].kind != Kind::Vector)
        return true;
      error = "red takes [address], value";
      return false;
    case Op::Atom:
      if (in.count == 3 && o[0].kind == Kind::Reg && o[1].memory &&
          !o[2].memory)
        return true;
      error = "atom takes a register, [address], value";
      return false;
    case Op::CpAsync:
      if ((in.count == 3 || in.count == 4) && o[0].memory && o[1].memory &&
          o[2].kind == Kind::Imm &&
          (o[2].imm == 4 || o[2].imm == 8 || o[2].imm == 16) &&
          (in.count == 3 || (!o[3].memory && (o[3].kind == Kind::Reg ||
                                              o[3].kind == Kind::Imm))))
        return true;
      error = "cp.async takes [shared], [global], 4|8|16{, source bytes}";
      return false;
    case Op::CpAsyncCommit:
      if (in.count == 0)
        return true;
      error = "cp.async.commit_group takes no operands";
      return false;
    case Op::CpAsyncWait:
      if (in.mode ? in.count == 0 : in.count == 1 && o[0].kind == Kind::Imm)
        return true;
      error = "cp.async.wait_group takes a constant, wait_all nothing";
      return false;
    default:
      return true;
    }
  }

  /// cp.async.{ca,cg}.shared{::cta}.global [dst], [src], size{, srcSize},
  /// cp.async.commit_group, cp.async.wait_group n, cp.async.wait_all.
  static bool decodeCpAsync(const std::vector<std::string> &parts, Inst &in,
                            std::string &error) {
    if (parts.size() < 3 || parts[1] != "async")
      return false;
    if (parts.size() == 3 && parts[2] == "commit_group") {
      in.op = Op::CpAsyncCommit;
      return true;
    }
    if (parts.size() == 3 &&
        (parts[2] == "wait_group" || parts[2] == "wait_all")) {
      in.op = Op::CpAsyncWait;
      in.mode = parts[2] == "wait_all"; // wait_all also commits
      return true;
    }
    if (parts.size() == 5 && (parts[2] == "ca" || parts[2] == "cg") &&
        (parts[3] == "shared" || parts[3] == "shared::cta") &&
        parts[4] == "global") {
      in.op = Op::CpAsync;
      in.space = Space::Global; // of the source; the destination is shared
      return true;
    }
    error = "only cp.async.{ca,cg}.shared.global, commit_group, wait_group "
            "and wait_all";
    return false;
  }

  /// red/atom{.global}{.relaxed|.gpu|...}.add.{f32,u32,s32,u64}, and
  /// red{.global}...add.{v2,v4}.f32 (PTX ISA 8.1, sm_90: each element an
  /// atomic add of its own).
  static bool decodeAtomic(const std::vector<std::string> &parts, Inst &in,
                           std::string &error) {
    in.op = parts[0] == "red" ? Op::Red : Op::Atom;
    bool add = false;
    for (size_t i = 1; i < parts.size(); ++i) {
      const std::string &m = parts[i];
      Ty t = parseType(m);
      if (t == Ty::F32 || t == Ty::U32 || t == Ty::S32 || t == Ty::U64) {
        in.type = t;
      } else if (m == "add") {
        add = true;
      } else if (m == "v2" || m == "v4") {
        in.vec = m == "v2" ? 2 : 4;
      } else if (m == "global") {
        in.space = Space::Global;
      } else if (m == "relaxed" || m == "gpu" || m == "sys" || m == "cta") {
        continue; // one thread runs at a time: every order is sequential
      } else {
        error = "modifier '" + m + "' (only add of f32, u32, s32 or u64 in " +
                "global memory)";
        return false;
      }
    }
    if (!add || in.type == Ty::None) {
      error = "only add of f32, u32, s32 or u64";
      return false;
    }
    if (in.vec > 1 && (in.op != Op::Red || in.type != Ty::F32)) {
      error = "vector atomics only as red.add.v2/v4.f32";
      return false;
    }
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
    if (parts[0] == "cp")
      return decodeCpAsync(parts, in, error);
    if (parts[0] == "red" || parts[0] == "atom")
      return decodeAtomic(parts, in, error);
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

} // namespace growc::ptx

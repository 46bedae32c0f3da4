//===- PtxStatements.cpp - PTX text: statements, literals, variables ------===//
//
// See PtxStatements.h.
//
//===----------------------------------------------------------------------===//

#include "PtxStatements.h"

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <sstream>
#include <unordered_map>

namespace growc::ptx {

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

} // namespace growc::ptx

//===- PtxStatements.h - PTX text: statements, literals, variables -*- C++ -*-//
//
// Test infrastructure (see PtxInterpreter.h): the layer of the PTX parser
// below instructions. It splits PTX text into statements (skipping
// comments, keeping line numbers for messages), splits operand lists at
// the top level, and parses types, integer and float literals and
// variable declarations, for PtxParser.cpp to decode.
//
//===----------------------------------------------------------------------===//

#ifndef GROWC_RUNTIME_TESTING_PTXSTATEMENTS_H
#define GROWC_RUNTIME_TESTING_PTXSTATEMENTS_H

#include "PtxParser.h"

#include <cstdint>
#include <string>
#include <vector>

namespace growc::ptx {

/// The type a PTX type suffix names ("f32", "b64", ...), or Ty::None.
Ty parseType(const std::string &s);

std::string trim(const std::string &s);
/// `s` split at `sep` outside brackets, braces and parentheses.
std::vector<std::string> splitTopLevel(const std::string &s, char sep);
/// `s` split at white space.
std::vector<std::string> splitWords(const std::string &s);

/// A statement of the PTX text: its words up to ';', '{' or '}', or a
/// label, with the line it starts on.
struct Statement {
  std::string text;
  int line;
  enum { Plain, Open, Close, Label } kind;
};
std::vector<Statement> statements(const std::string &source);

/// A decimal or hexadecimal (0x) integer literal, maybe negative.
bool parseInteger(const std::string &s, uint64_t &value);
/// An integer literal, or a float literal as its hexadecimal bits (0fXXXXXXXX,
/// 0dXXXXXXXXXXXXXXXX).
bool parseImmediate(const std::string &s, uint64_t &value);

struct VarDecl {
  std::string name;
  Variable var;
};
/// `.global .align 4 .b8 name[24] = {...}`, `.shared .align 4 .f32 x`,
/// `.extern .shared .align 16 .b8 dyn[]`, `.local .align 8 .b8 depot[28]`.
bool parseVariable(const std::string &text, VarDecl &out, std::string &error);

inline uint64_t alignUp(uint64_t x, uint64_t a) { return (x + a - 1) / a * a; }

} // namespace growc::ptx

#endif // GROWC_RUNTIME_TESTING_PTXSTATEMENTS_H

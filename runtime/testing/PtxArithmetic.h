//===- PtxArithmetic.h - PTX's scalar semantics, for tests ------*- C++ -*-===//
//
// Test infrastructure (see PtxInterpreter.h): what one thread's arithmetic
// instructions compute, as the PTX ISA (version 8) defines it: integer ops
// wrap at their type's width, float ops round to nearest unless a rounding
// modifier says otherwise, .ftz flushes f32 subnormals, float-to-int
// conversions saturate. Registers hold raw bits (uint64_t); these
// functions read and write them by the instruction's types.
//
//===----------------------------------------------------------------------===//

#ifndef GROWC_RUNTIME_TESTING_PTXARITHMETIC_H
#define GROWC_RUNTIME_TESTING_PTXARITHMETIC_H

#include "PtxParser.h"

#include <cstdint>
#include <cstring>

namespace growc::ptx {

/// The low `bits` bits set.
inline uint64_t mask(unsigned bits) {
  return bits >= 64 ? ~uint64_t(0) : (uint64_t(1) << bits) - 1;
}
int64_t signExtend(uint64_t v, unsigned bits);
float asF32(uint64_t v);
uint64_t ofF32(float f);
double asF64(uint64_t v);
uint64_t ofF64(double d);
/// An f32 subnormal flushed to a zero of its sign (.ftz).
float flush(float f);
/// `f` as bf16 bits, rounded by `rounding` (a Rounding).
uint16_t toBf16(float f, uint8_t rounding);
/// `x` rounded to an integral value by `r` (.rni, .rzi, .rmi, .rpi).
double roundToIntegral(double x, uint8_t r);

/// An f32 operand's value (flushed with .ftz).
float f32(const Inst &in, uint64_t bits);
/// An f32 result's bits (saturated with .sat, flushed with .ftz).
uint64_t resultF32(const Inst &in, float r);
/// The floating-point instructions (add, mul, fma, min, max, div, sqrt,
/// rcp, ex2, lg2, ...) on operands a, b and c.
uint64_t floating(const Inst &in, uint64_t a, uint64_t b, uint64_t c);
/// setp and set: the comparison `in.cmp` of a and b.
bool compare(const Inst &in, uint64_t a, uint64_t b);
/// cvt: `v` of the source type `in.type2` as the destination type.
uint64_t convert(const Inst &in, uint64_t v);

} // namespace growc::ptx

#endif // GROWC_RUNTIME_TESTING_PTXARITHMETIC_H

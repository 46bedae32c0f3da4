//===- PtxArithmetic.cpp - PTX's scalar semantics, for tests --------------===//
//
// See PtxArithmetic.h. The .approx functions are computed exactly (the ISA
// bounds their error; tests compare with tolerances); .rm/.rz/.rp switch
// the host's rounding mode around the operation (the library is built with
// -frounding-math so that the compiler keeps it there).
//
//===----------------------------------------------------------------------===//

#include "PtxArithmetic.h"

#include <algorithm>
#include <cfenv>
#include <cmath>
#include <limits>

namespace growc::ptx {

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

float f32(const Inst &in, uint64_t bits) {
  float f = asF32(bits);
  return in.ftz ? flush(f) : f;
}
uint64_t resultF32(const Inst &in, float r) {
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

bool compare(const Inst &in, uint64_t a, uint64_t b) {
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

uint64_t convert(const Inst &in, uint64_t v) {
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
      int64_t lo = -(int64_t(1) << (dw - 1)), hi = (int64_t(1) << (dw - 1)) - 1;
      int64_t x = isSigned(s) ? sv : int64_t(std::min<uint64_t>(uv, INT64_MAX));
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

} // namespace growc::ptx

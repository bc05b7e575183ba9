// Arbitrary-precision integer and fixed-point types for C simulation with g++.
//
// The spellings (ap_int, ap_uint, ap_fixed, ap_ufixed, AP_TRN, AP_WRAP, ...) match the
// vendor's, so generated code compiles against either; the numeric behaviour follows
// docs/fixed_point.md and must agree bit for bit with nnhls.quantize.
//
// Representation: a value is an integer code V times 2^-F, F = W - I. V is stored in a
// 64-bit word for W <= 64 and a 128-bit word above, always sign- (signed types) or
// zero-extended (unsigned types) from its W bits, so comparisons and arithmetic can use V
// directly. Widths are limited to 1..128 bits, results of operations included: enough for
// C simulation of realistic layers, and it keeps every operation inside native or __int128
// arithmetic. T::from_code(lo, hi) builds a value from a raw code; code_lo()/code_hi() read
// the code back as the two halves of a 128-bit two's-complement integer.
//
// Choices the specification leaves open:
//  - to_int()/to_long()/... return the integer part rounded toward zero (like a C cast of
//    the value), reduced modulo 2^64 (or 2^32) when it does not fit.
//  - Comparisons with floating-point values are exact (the double is decoded, not the ap
//    value rounded). NaN compares unordered. Converting NaN gives 0; +-inf converts like
//    +-2^1024 (so it saturates or wraps to 0). long double is rounded to double first.
//  - ++/-- add or subtract the value 1 (not one LSB), through the full-precision sum, so
//    they are unavailable on 128-bit types like any other operation wider than 128 bits.
//  - Shifts keep the operand's type; counts beyond +-1000 act like +-1000.
//  - range(hi, lo) needs 0 <= lo <= hi < W; assigning an ap value to a range stores the
//    low bits of its code. Bit and range indices are not checked.
//  - Division and modulo by zero print a message and abort, like a read from an empty
//    hls::stream, so the failing simulation stops at the cause.

#ifndef NNHLS_AP_INT_H
#define NNHLS_AP_INT_H

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <iosfwd>
#include <type_traits>

enum ap_q_mode {
  AP_RND = 0,
  AP_RND_ZERO = 1,
  AP_RND_MIN_INF = 2,
  AP_RND_INF = 3,
  AP_RND_CONV = 4,
  AP_TRN = 5,
  AP_TRN_ZERO = 6
};

enum ap_o_mode { AP_SAT = 0, AP_SAT_ZERO = 1, AP_SAT_SYM = 2, AP_WRAP = 3, AP_WRAP_SM = 4 };

template <int W, int I, bool S, ap_q_mode Q = AP_TRN, ap_o_mode O = AP_WRAP, int N = 0>
class ap_fixed_base;
template <int W, int I, bool S, ap_q_mode Q, ap_o_mode O, int N>
class ap_bit_ref;
template <int W, int I, bool S, ap_q_mode Q, ap_o_mode O, int N>
class ap_range_ref;

// Template parameter lists are long and repeated on every operator; these keep them readable.
#define NNHLS_AP_PARAMS(n) int W##n, int I##n, bool S##n, ap_q_mode Q##n, ap_o_mode O##n, int N##n
#define NNHLS_AP_TYPE(n) ap_fixed_base<W##n, I##n, S##n, Q##n, O##n, N##n>

namespace ap_detail {

__extension__ typedef __int128 i128;
__extension__ typedef unsigned __int128 u128;
typedef std::int64_t i64;
typedef std::uint64_t u64;

template <class U>
constexpr int bits() {
  return int(sizeof(U)) * 8;
}

// The low n bits set; n may be anything, so callers need not guard shift counts.
template <class U>
constexpr U mask(int n) {
  return n <= 0 ? U(0) : n >= bits<U>() ? ~U(0) : U((U(1) << n) - 1);
}

// Shifts whose count is a run-time argument: a count known at compile time would draw
// shift-count warnings from branches that the width makes dead.
template <class U>
inline U shl(U v, int n) {
  return n >= bits<U>() ? U(0) : U(v << n);
}
template <class U>
inline U shr(U v, int n) {
  return n >= bits<U>() ? U(0) : U(v >> n);
}

// Arithmetic right shift (n >= 1) of the unbounded integer whose low bits are v and whose
// bits above the word all equal neg: an unsigned 128-bit source needs that extra sign.
template <class U>
inline U sar(U v, bool neg, int n) {
  if (n >= bits<U>()) return neg ? ~U(0) : U(0);
  return U((v >> n) | (neg ? U(~(~U(0) >> n)) : U(0)));
}

inline i64 as_signed(u64 v) { return i64(v); }
inline i128 as_signed(u128 v) { return i128(v); }

// Overloads rather than "v < 0", which warns for unsigned storage.
inline bool is_neg(i64 v) { return v < 0; }
inline bool is_neg(u64) { return false; }
inline bool is_neg(i128 v) { return v < 0; }
inline bool is_neg(u128) { return false; }

template <class U, class T>
inline U uabs(T v) {
  return is_neg(v) ? U(U(0) - U(v)) : U(v);
}

// Sign- or zero-extends the low W bits of v to the whole word.
template <int W, bool S, class U>
inline U extend(U v) {
  if (W >= bits<U>()) return v;
  if (S) return U(as_signed(shl(v, bits<U>() - W)) >> (bits<U>() - W));
  return U(v & mask<U>(W));
}

template <class U>
inline U set_field(U v, int pos, int n, bool one) {
  U m = shl(mask<U>(n), pos);
  return one ? U(v | m) : U(v & ~m);
}

[[noreturn]] inline void fail(const char* what) {
  std::fprintf(stderr, "ap types: %s\n", what);
  std::abort();
}

// Whether a signed AP_SAT_SYM type saturates to -max rather than min: a 1-bit type has max 0,
// and the vendor saturates it like AP_SAT.
constexpr bool symmetric(bool s, ap_o_mode o, int w) { return s && o == AP_SAT_SYM && w > 1; }

// Applies the overflow mode to a rounded code that does not fit in W bits. low holds its low
// bits, yneg its sign, s the sign of the source value, and above bit W of the code before
// rounding (AP_WRAP_SM reads that one, not the rounded code's).
template <int W, bool S, ap_o_mode O, int N, class U>
inline U overflow(U low, bool yneg, bool above, bool s) {
  const U maxv = mask<U>(S ? W - 1 : W);
  const U minv = S ? U(~mask<U>(W - 1)) : U(0);
  if (O == AP_SAT) return yneg ? minv : maxv;
  if (O == AP_SAT_ZERO) return U(0);
  if (O == AP_SAT_SYM) return yneg ? (symmetric(S, O, W) ? U(minv + 1) : minv) : maxv;
  if (O == AP_WRAP && N > 0) {
    if (S) {
      low = set_field(low, W - 1, 1, s);
      low = set_field(low, W - N, N - 1, !s);
    } else {
      low = set_field(low, W - N, N, true);
    }
  } else if (O == AP_WRAP_SM) {
    const bool ro = (shr(low, W - 1) & 1) != 0;
    if (N == 0) {
      if (above != ro) low = set_field(U(~low), W - 1, 1, above);
    } else if (N == 1) {
      if (s != ro) low = set_field(U(~low), W - 1, 1, s);
    } else {
      if (((shr(low, W - N) & 1) != 0) == s) low = U(~low);
      low = set_field(low, W - N, N - 1, !s);
      low = set_field(low, W - 1, 1, s);
    }
  }
  return extend<W, S>(low);
}

// The conversion of FIXED_POINT.md: the exact source value is x * 2^-(F + shift), where x is
// the unbounded integer with low bits x and all higher bits equal to neg. Returns the code
// of the target ap_[u]fixed<W, W - F, Q, O, N>, extended to the word. U must hold W bits.
template <int W, bool S, ap_q_mode Q, ap_o_mode O, int N, class U>
inline U quantize(U x, bool neg, int shift) {
  const int B = bits<U>();
  U y = x;
  bool yneg = neg;
  int lsh = 0;  // y is scaled by 2^lsh when the source has fewer fraction bits
  // Bit W of the code before rounding: bit W + shift of the source (its sign beyond the word).
  const int k = W + shift;
  const bool above = k < 0 ? false : k >= B ? neg : (shr(x, k) & 1) != 0;
  if (shift > 0) {
    bool qb, r;
    if (shift < B) {
      qb = (shr(x, shift - 1) & 1) != 0;
      r = (x & mask<U>(shift - 1)) != 0;
    } else {
      qb = shift == B ? (shr(x, B - 1) & 1) != 0 : neg;
      r = shift == B ? (x & mask<U>(B - 1)) != 0 : shift == B + 1 ? x != 0 : (x != 0 || neg);
    }
    y = sar(x, neg, shift);
    bool inc = false;
    switch (Q) {
      case AP_TRN: inc = false; break;
      case AP_TRN_ZERO: inc = neg && (qb || r); break;
      case AP_RND: inc = qb; break;
      case AP_RND_ZERO: inc = qb && (neg || r); break;
      case AP_RND_MIN_INF: inc = qb && r; break;
      case AP_RND_INF: inc = qb && (!neg || r); break;
      case AP_RND_CONV: inc = qb && ((y & 1) != 0 || r); break;
    }
    if (inc) {
      y = U(y + 1);
      yneg = neg && y != 0;
    }
  } else {
    lsh = -shift;
  }
  // In range iff every bit of y * 2^lsh from position p up equals its sign.
  const int q = (S ? W - 1 : W) - lsh;
  bool in_range;
  if (!S && yneg) in_range = false;
  else if (q < 0) in_range = y == 0 && !yneg;
  else if (q >= B) in_range = true;
  else in_range = shr(yneg ? U(~y) : y, q) == 0;
  const U low = shl(y, lsh);
  if (in_range) {
    U v = extend<W, S>(low);
    if (symmetric(S, O, W) && v == U(~mask<U>(W - 1))) v = U(v + 1);
    return v;
  }
  return overflow<W, S, O, N>(low, yneg, above, neg);
}

// A finite double is +-m * 2^-f with m < 2^53.
struct double_parts {
  u64 m;
  bool neg;
  int f;
  int kind;  // 0 finite, 1 infinite, 2 NaN
};

inline double_parts split(double d) {
  u64 b;
  __builtin_memcpy(&b, &d, sizeof b);
  const int e = int((b >> 52) & 0x7ff);
  double_parts p;
  p.m = b & ((u64(1) << 52) - 1);
  p.kind = e == 0x7ff ? (p.m != 0 ? 2 : 1) : 0;
  if (p.kind == 2) p.m = 0;
  if (e == 0) {
    p.f = 1074;
  } else {
    p.m |= u64(1) << 52;
    p.f = 1075 - e;
  }
  p.neg = (b >> 63) != 0 && p.m != 0;
  return p;
}

template <int W, bool S, ap_q_mode Q, ap_o_mode O, int N, class U>
inline U from_double(double d, int F) {
  const double_parts p = split(d);
  return quantize<W, S, Q, O, N, U>(p.neg ? U(U(0) - U(p.m)) : U(p.m), p.neg, p.f - F);
}

// Keeps compile-time powers of two finite (an infinity is not a constant expression).
constexpr int clamp_exp(int e, int limit) { return e > limit ? limit : e < -limit ? -limit : e; }

// 2^e by repeated squaring; used only in constant expressions.
constexpr double pow2(int e) {
  double r = 1.0, b = e < 0 ? 0.5 : 2.0;
  for (int n = e < 0 ? -e : e; n != 0; n >>= 1) {
    if (n & 1) r *= b;
    if (n > 1) b *= b;  // squaring past the last bit could overflow to infinity
  }
  return r;
}

template <class C, bool Signed>
struct sign_of {
  static bool neg(C v) { return v < C(0); }
};
template <class C>
struct sign_of<C, false> {
  static bool neg(C) { return false; }
};

// A C++ integer operand acts as ap_int/ap_uint of its width; bool as ap_uint<1>.
// Unscoped enums act as their underlying type.
template <class C, bool = std::is_integral<C>::value,
          bool = std::is_enum<C>::value && std::is_convertible<C, long long>::value>
struct cint {};

template <class C>
struct cint<C, true, false> {
  static constexpr bool s = std::is_signed<C>::value || std::is_same<C, char>::value;
  static constexpr int w = std::is_same<C, bool>::value ? 1 : int(sizeof(C)) * 8;
  typedef ap_fixed_base<w, w, s> type;
  typedef bool bool_type;
  static bool neg(C v) { return sign_of<C, s>::neg(v); }
  static type make(C v) {
    type t;
    t.V = typename type::code_t(v);
    return t;
  }
};

template <class C>
struct cint<C, false, true> : cint<typename std::underlying_type<C>::type> {};

// A shift count limited to +-1000: every count beyond the width gives the same result, and
// the limit keeps the count an int. Written with division so that no type draws a
// "comparison always false" warning.
template <class C>
inline int clamp_shift(C n) {
  return n / 1001 != 0 ? (cint<C>::neg(n) ? -1000 : 1000) : int(n);
}

constexpr int max_int(int a, int b) { return a > b ? a : b; }
constexpr int min_int(int a, int b) { return a < b ? a : b; }

// Full-precision result types (FIXED_POINT.md "Result types"); the names only are formed
// here, so an over-wide result fails only where it is actually used.
template <int W1, int I1, bool S1, int W2, int I2, bool S2>
struct rt {
  static constexpr int F1 = W1 - I1, F2 = W2 - I2, F = max_int(F1, F2);
  static constexpr int IL = max_int(I1 + (S2 && !S1), I2 + (S1 && !S2));
  typedef ap_fixed_base<W1 + W2, I1 + I2, S1 || S2> mult;
  typedef ap_fixed_base<IL + 1 + F, IL + 1, S1 || S2> plus;
  typedef ap_fixed_base<IL + 1 + F, IL + 1, true> minus;
  typedef ap_fixed_base<S2 + W1 + max_int(F2, 0), S2 + I1 + F2, S1 || S2> div;
  typedef ap_fixed_base<IL + F, IL, S1 || S2> logic;
  typedef ap_fixed_base<min_int(W1, W2 + (S1 && !S2)), min_int(W1, W2 + (S1 && !S2)), S1> mod;
};

template <class A, class B>
struct wider_word {
  typedef typename std::conditional<(A::width > 64 || B::width > 64), u128, u64>::type type;
};

template <class R, class A, class B>
inline R add(const A& a, const B& b) {
  typedef typename R::word_t U;
  R r;
  r.V = typename R::code_t(U(shl(U(a.V), R::fwidth - A::fwidth) + shl(U(b.V), R::fwidth - B::fwidth)));
  return r;
}

template <class R, class A, class B>
inline R sub(const A& a, const B& b) {
  typedef typename R::word_t U;
  R r;
  r.V = typename R::code_t(U(shl(U(a.V), R::fwidth - A::fwidth) - shl(U(b.V), R::fwidth - B::fwidth)));
  return r;
}

// The product of the codes always fits the result width, so the signed multiply cannot
// overflow.
template <class R, class A, class B>
inline R mul(const A& a, const B& b) {
  typedef typename R::code_t C;
  R r;
  r.V = C(C(a.V) * C(b.V));
  return r;
}

// The vendor divides in a register of max(W1 + max(F2, 0) + [S2 && !S1], W2 + [S1 && !S2])
// bits; where both are signed and that is just the shifted dividend's width, the most negative
// dividend divided by -1 wraps to itself.
template <class R, class A, class B>
inline R div(const A& a, const B& b) {
  typedef typename std::conditional<(R::width > 64 || B::width > 64), u128, u64>::type U;
  const U nb = uabs<U>(b.V);
  if (nb == 0) fail("division by zero");
  const U q = U(shl(uabs<U>(a.V), max_int(B::fwidth, 0)) / nb);
  const int dividend_bits = A::width + max_int(B::fwidth, 0);
  const bool wraps =
      A::sign_flag && B::sign_flag && B::width <= dividend_bits && q == shl(U(1), dividend_bits - 1);
  R r;
  r.V = typename R::code_t(is_neg(a.V) != is_neg(b.V) || wraps ? U(U(0) - q) : q);
  return r;
}

template <class R, class A, class B>
inline R mod(const A& a, const B& b) {
  static_assert(A::fwidth == 0 && B::fwidth == 0,
                "ap types: operator% needs integer operands (ap_int, ap_uint or C++ integers)");
  typedef typename wider_word<A, B>::type U;
  const U nb = uabs<U>(b.V);
  if (nb == 0) fail("modulo by zero");
  const U m = U(uabs<U>(a.V) % nb);
  R r;
  r.V = typename R::code_t(is_neg(a.V) ? U(U(0) - m) : m);
  return r;
}

// Both codes aligned to the common fraction fit the logic result width, and bitwise
// operations on sign-extended words stay sign-extended.
template <class R, class A, class B>
inline R band(const A& a, const B& b) {
  typedef typename R::word_t U;
  R r;
  r.V = typename R::code_t(U(shl(U(a.V), R::fwidth - A::fwidth) & shl(U(b.V), R::fwidth - B::fwidth)));
  return r;
}
template <class R, class A, class B>
inline R bor(const A& a, const B& b) {
  typedef typename R::word_t U;
  R r;
  r.V = typename R::code_t(U(shl(U(a.V), R::fwidth - A::fwidth) | shl(U(b.V), R::fwidth - B::fwidth)));
  return r;
}
template <class R, class A, class B>
inline R bxor(const A& a, const B& b) {
  typedef typename R::word_t U;
  R r;
  r.V = typename R::code_t(U(shl(U(a.V), R::fwidth - A::fwidth) ^ shl(U(b.V), R::fwidth - B::fwidth)));
  return r;
}

template <class U>
inline int cmp_words(U a, bool an, U b, bool bn) {
  if (an != bn) return an ? -1 : 1;
  return a < b ? -1 : (a > b ? 1 : 0);
}

// Compares a * 2^d with b (d > 0) without forming the shifted a, which may not fit.
template <class U>
inline int cmp_shifted(U a, bool an, U b, bool bn, int d) {
  const U q = sar(b, bn, d);
  const bool rem = d >= bits<U>() ? (bn || b != 0) : (b & mask<U>(d)) != 0;
  const int c = cmp_words(a, an, q, bn);
  return c != 0 ? c : (rem ? -1 : 0);
}

// Sign of a * 2^-fa - b * 2^-fb for any two exact values.
template <class U>
inline int cmp_scaled(U a, bool an, int fa, U b, bool bn, int fb) {
  if (fa == fb) return cmp_words(a, an, b, bn);
  if (fa < fb) return cmp_shifted(a, an, b, bn, fb - fa);
  return -cmp_shifted(b, bn, a, an, fa - fb);
}

template <class A, class B>
inline int compare(const A& a, const B& b) {
  typedef rt<A::width, A::iwidth, A::sign_flag, B::width, B::iwidth, B::sign_flag> T;
  if (T::IL + T::F <= 64) {  // both aligned codes fit one 64-bit word
    const u64 x = shl(u64(a.V), T::F - A::fwidth), y = shl(u64(b.V), T::F - B::fwidth);
    if (A::sign_flag || B::sign_flag) return cmp_words(x, i64(x) < 0, y, i64(y) < 0);
    return cmp_words(x, false, y, false);
  }
  typedef typename wider_word<A, B>::type U;
  return cmp_scaled(U(a.V), is_neg(a.V), A::fwidth, U(b.V), is_neg(b.V), B::fwidth);
}

// Like compare, against a double; 2 means unordered (NaN).
template <class A>
inline int compare_double(const A& a, double d) {
  const double_parts p = split(d);
  if (p.kind == 2) return 2;
  if (p.kind == 1) return p.neg ? 1 : -1;
  typedef typename std::conditional<(A::width > 64), u128, u64>::type U;
  return cmp_scaled(U(a.V), is_neg(a.V), A::fwidth, p.neg ? U(U(0) - U(p.m)) : U(p.m), p.neg, p.f);
}

}  // namespace ap_detail

template <int W, int I, bool S, ap_q_mode Q, ap_o_mode O, int N>
class ap_fixed_base {
  static_assert(W >= 1, "ap types: the width W must be at least 1");
  static_assert(W <= 128,
                "ap types: nnhls's C-simulation types support at most 128 bits; this type "
                "(or the full-precision result of an operation) is wider. Use a narrower type "
                "or convert an operand to a narrower type first");
  static_assert(N >= 0 && N <= W, "ap types: the saturation bit count N must be in 0..W");
  static_assert(S || O != AP_WRAP_SM,
                "ap types: AP_WRAP_SM is defined for signed types only; use AP_WRAP or AP_SAT "
                "with ap_ufixed/ap_uint");

 public:
  typedef typename std::conditional<(W <= 64), typename std::conditional<S, ap_detail::i64, ap_detail::u64>::type,
                                    typename std::conditional<S, ap_detail::i128, ap_detail::u128>::type>::type
      code_t;
  typedef typename std::conditional<(W <= 64), ap_detail::u64, ap_detail::u128>::type word_t;
  // Integer types convert implicitly to a C++ integer, so they can index arrays; types with
  // fraction bits convert to double. One conversion only, to keep overloads unambiguous.
  typedef typename std::conditional<(W == I), typename std::conditional<S, long long, unsigned long long>::type,
                                    double>::type conv_t;

  static constexpr int width = W;
  static constexpr int iwidth = I;
  static constexpr int fwidth = W - I;
  static constexpr bool sign_flag = S;
  static constexpr ap_q_mode qmode = Q;
  static constexpr ap_o_mode omode = O;
  static constexpr int sat_bits = N;

  code_t V;

  ap_fixed_base() : V(0) {}

  template <NNHLS_AP_PARAMS(2)>
  ap_fixed_base(const NNHLS_AP_TYPE(2) & x) {
    typedef typename std::conditional<(W > 64 || W2 > 64), ap_detail::u128, ap_detail::u64>::type U;
    V = code_t(ap_detail::quantize<W, S, Q, O, N, U>(U(x.V), ap_detail::is_neg(x.V), (W2 - I2) - fwidth));
  }

  template <class C, int = ap_detail::cint<C>::w>
  ap_fixed_base(C v) {
    typedef ap_detail::cint<C> CI;
    typedef typename std::conditional<(W > 64 || CI::w > 64), ap_detail::u128, ap_detail::u64>::type U;
    V = code_t(ap_detail::quantize<W, S, Q, O, N, U>(U(v), CI::neg(v), -fwidth));
  }

  // float is widened exactly; long double is rounded to double first.
  ap_fixed_base(double d) { V = code_t(ap_detail::from_double<W, S, Q, O, N, word_t>(d, fwidth)); }
  ap_fixed_base(float f) : ap_fixed_base(double(f)) {}
  ap_fixed_base(long double d) : ap_fixed_base(double(d)) {}

  // __int128 is not std::is_integral in strict -std=c++XX modes.
  ap_fixed_base(ap_detail::i128 v) {
    V = code_t(ap_detail::quantize<W, S, Q, O, N, ap_detail::u128>(ap_detail::u128(v), v < 0, -fwidth));
  }
  ap_fixed_base(ap_detail::u128 v) {
    V = code_t(ap_detail::quantize<W, S, Q, O, N, ap_detail::u128>(v, false, -fwidth));
  }

  template <NNHLS_AP_PARAMS(2)>
  ap_fixed_base(const ap_range_ref<W2, I2, S2, Q2, O2, N2>& r) {
    typedef typename std::conditional<(W > 64 || W2 > 64), ap_detail::u128, ap_detail::u64>::type U;
    V = code_t(ap_detail::quantize<W, S, Q, O, N, U>(U(r.bits()), false, -fwidth));
  }

  template <NNHLS_AP_PARAMS(2)>
  ap_fixed_base(const ap_bit_ref<W2, I2, S2, Q2, O2, N2>& b) : ap_fixed_base(bool(b)) {}

  // Builds a value from its raw code: the low W bits of the 128-bit word hi:lo.
  static ap_fixed_base from_code(ap_detail::u64 lo, ap_detail::u64 hi = 0) {
    ap_fixed_base r;
    const word_t w = word_t(ap_detail::shl(word_t(hi), 64) | lo);
    r.V = code_t(ap_detail::extend<W, S>(w));
    return r;
  }
  // The code as a 128-bit two's-complement integer (sign-extended for signed types), in halves.
  ap_detail::u64 code_lo() const { return ap_detail::u64(V); }
  ap_detail::u64 code_hi() const {
    return W > 64 ? ap_detail::u64(ap_detail::shr(word_t(V), 64)) : (ap_detail::is_neg(V) ? ~ap_detail::u64(0) : 0);
  }

  // ---- conversions out ----
  double to_double() const {
    if (fwidth >= -1000 && fwidth <= 1000) {
      constexpr double scale = ap_detail::pow2(ap_detail::clamp_exp(-fwidth, 1000));
      return double(V) * scale;
    }
    // Split so that neither factor over- or underflows on its own.
    constexpr double s1 = ap_detail::pow2(ap_detail::clamp_exp(-fwidth / 2, 1000));
    constexpr double s2 = ap_detail::pow2(ap_detail::clamp_exp(-fwidth - (-fwidth / 2), 1000));
    return double(V) * s1 * s2;
  }
  float to_float() const {
    // Rounding V straight to float avoids a double rounding through to_double().
    if (fwidth >= -120 && fwidth <= 120) {
      constexpr float scale = float(ap_detail::pow2(ap_detail::clamp_exp(-fwidth, 120)));
      return float(V) * scale;
    }
    return float(to_double());
  }
  // Integer part, rounded toward zero, modulo 2^64.
  long long to_int64() const {
    typedef ap_detail::u64 u64;
    if (fwidth <= 0) return (long long)u64(ap_detail::shl(word_t(V), -fwidth));
    if (fwidth >= W) return 0;
    word_t q = ap_detail::sar(word_t(V), ap_detail::is_neg(V), fwidth);
    if (ap_detail::is_neg(V) && (word_t(V) & ap_detail::mask<word_t>(fwidth)) != 0) q = word_t(q + 1);
    return (long long)u64(q);
  }
  unsigned long long to_uint64() const { return (unsigned long long)to_int64(); }
  int to_int() const { return int(to_int64()); }
  unsigned to_uint() const { return unsigned(to_int64()); }
  long to_long() const { return long(to_int64()); }
  unsigned long to_ulong() const { return (unsigned long)to_int64(); }

  operator conv_t() const { return W == I ? conv_t(V) : conv_t(to_double()); }

  // ---- bits ----
  int length() const { return W; }
  bool is_neg() const { return ap_detail::is_neg(V); }
  bool iszero() const { return V == 0; }
  bool get_bit(int i) const { return (ap_detail::shr(word_t(V), i) & 1) != 0; }
  void set_bit(int i, bool b) { V = code_t(ap_detail::extend<W, S>(ap_detail::set_field(word_t(V), i, 1, b))); }
  bool operator[](int i) const { return get_bit(i); }
  ap_bit_ref<W, I, S, Q, O, N> operator[](int i) { return ap_bit_ref<W, I, S, Q, O, N>(*this, i); }
  ap_range_ref<W, I, S, Q, O, N> range(int hi, int lo) const {
    return ap_range_ref<W, I, S, Q, O, N>(const_cast<ap_fixed_base&>(*this), hi, lo);
  }
  ap_range_ref<W, I, S, Q, O, N> range() const { return range(W - 1, 0); }
  ap_range_ref<W, I, S, Q, O, N> operator()(int hi, int lo) const { return range(hi, lo); }
  bool and_reduce() const { return (word_t(V) & ap_detail::mask<word_t>(W)) == ap_detail::mask<word_t>(W); }
  bool or_reduce() const { return V != 0; }
  bool xor_reduce() const {
    const word_t w = word_t(V) & ap_detail::mask<word_t>(W);
    return ((__builtin_popcountll(ap_detail::u64(w)) + __builtin_popcountll(ap_detail::u64(ap_detail::shr(w, 64)))) & 1) != 0;
  }

  // ---- unary ----
  ap_fixed_base<W + 1, I + 1, true> operator-() const {
    typedef ap_fixed_base<W + 1, I + 1, true> R;
    R r;
    r.V = typename R::code_t(typename R::word_t(0) - typename R::word_t(V));
    return r;
  }
  ap_fixed_base operator+() const { return *this; }
  ap_fixed_base operator~() const {
    ap_fixed_base r;
    r.V = code_t(ap_detail::extend<W, S>(word_t(~word_t(V))));
    return r;
  }

  // ---- shifts: same type, the code is shifted and bits shifted out are lost ----
  // n > 0 shifts left, n < 0 right (arithmetic for signed types).
  ap_fixed_base shifted(int n) const {
    ap_fixed_base r;
    if (n >= 0) r.V = code_t(ap_detail::extend<W, S>(ap_detail::shl(word_t(V), n)));
    else r.V = code_t(ap_detail::sar(word_t(V), ap_detail::is_neg(V), -n));
    return r;
  }
  template <class C, int = ap_detail::cint<C>::w>
  ap_fixed_base operator<<(C n) const {
    return shifted(ap_detail::clamp_shift(n));
  }
  template <class C, int = ap_detail::cint<C>::w>
  ap_fixed_base operator>>(C n) const {
    return shifted(-ap_detail::clamp_shift(n));
  }
  template <NNHLS_AP_PARAMS(2)>
  ap_fixed_base operator<<(const NNHLS_AP_TYPE(2) & n) const {
    return shifted(ap_detail::clamp_shift(n.to_int64()));
  }
  template <NNHLS_AP_PARAMS(2)>
  ap_fixed_base operator>>(const NNHLS_AP_TYPE(2) & n) const {
    return shifted(-ap_detail::clamp_shift(n.to_int64()));
  }

  // ---- compound assignment: full-precision result, then this type's quantization ----
  template <class T>
  ap_fixed_base& operator+=(const T& y) { return *this = *this + y; }
  template <class T>
  ap_fixed_base& operator-=(const T& y) { return *this = *this - y; }
  template <class T>
  ap_fixed_base& operator*=(const T& y) { return *this = *this * y; }
  template <class T>
  ap_fixed_base& operator/=(const T& y) { return *this = *this / y; }
  template <class T>
  ap_fixed_base& operator%=(const T& y) { return *this = *this % y; }
  template <class T>
  ap_fixed_base& operator&=(const T& y) { return *this = *this & y; }
  template <class T>
  ap_fixed_base& operator|=(const T& y) { return *this = *this | y; }
  template <class T>
  ap_fixed_base& operator^=(const T& y) { return *this = *this ^ y; }
  template <class T>
  ap_fixed_base& operator<<=(const T& n) { return *this = *this << n; }
  template <class T>
  ap_fixed_base& operator>>=(const T& n) { return *this = *this >> n; }

  ap_fixed_base& operator++() { return *this += ap_fixed_base<1, 1, false>::from_code(1); }
  ap_fixed_base& operator--() { return *this -= ap_fixed_base<1, 1, false>::from_code(1); }
  ap_fixed_base operator++(int) {
    ap_fixed_base old = *this;
    ++*this;
    return old;
  }
  ap_fixed_base operator--(int) {
    ap_fixed_base old = *this;
    --*this;
    return old;
  }
};

#if __cplusplus < 201703L
// Out-of-class definitions, needed before C++17 when a member is odr-used (std::min(T::width, ...)).
template <NNHLS_AP_PARAMS()>
constexpr int NNHLS_AP_TYPE()::width;
template <NNHLS_AP_PARAMS()>
constexpr int NNHLS_AP_TYPE()::iwidth;
template <NNHLS_AP_PARAMS()>
constexpr int NNHLS_AP_TYPE()::fwidth;
template <NNHLS_AP_PARAMS()>
constexpr bool NNHLS_AP_TYPE()::sign_flag;
template <NNHLS_AP_PARAMS()>
constexpr ap_q_mode NNHLS_AP_TYPE()::qmode;
template <NNHLS_AP_PARAMS()>
constexpr ap_o_mode NNHLS_AP_TYPE()::omode;
template <NNHLS_AP_PARAMS()>
constexpr int NNHLS_AP_TYPE()::sat_bits;
#endif

// The four user-facing types. A constructor from the base type is spelled out because an
// inherited constructor is never used to copy from a base-class object.
#define NNHLS_AP_DERIVED(NAME, ...)     \
 public:                                \
  typedef ap_fixed_base<__VA_ARGS__> Base; \
  using Base::Base;                     \
  NAME() = default;                     \
  NAME(const Base& x) : Base(x) {}

template <int W, int I, ap_q_mode Q = AP_TRN, ap_o_mode O = AP_WRAP, int N = 0>
class ap_fixed : public ap_fixed_base<W, I, true, Q, O, N> {
  NNHLS_AP_DERIVED(ap_fixed, W, I, true, Q, O, N)
};

template <int W, int I, ap_q_mode Q = AP_TRN, ap_o_mode O = AP_WRAP, int N = 0>
class ap_ufixed : public ap_fixed_base<W, I, false, Q, O, N> {
  NNHLS_AP_DERIVED(ap_ufixed, W, I, false, Q, O, N)
};

template <int W>
class ap_int : public ap_fixed_base<W, W, true> {
  NNHLS_AP_DERIVED(ap_int, W, W, true)
};

template <int W>
class ap_uint : public ap_fixed_base<W, W, false> {
  NNHLS_AP_DERIVED(ap_uint, W, W, false)
};

#undef NNHLS_AP_DERIVED

// ---- bit and range proxies ----

template <int W, int I, bool S, ap_q_mode Q, ap_o_mode O, int N>
class ap_bit_ref {
  typedef ap_fixed_base<W, I, S, Q, O, N> P;
  P* p_;
  int i_;

 public:
  ap_bit_ref(P& p, int i) : p_(&p), i_(i) {}
  ap_bit_ref(const ap_bit_ref&) = default;
  operator bool() const { return p_->get_bit(i_); }
  bool get() const { return p_->get_bit(i_); }
  bool operator~() const { return !get(); }
  ap_bit_ref& operator=(bool b) {
    p_->set_bit(i_, b);
    return *this;
  }
  // Assigns the bit, not the reference.
  ap_bit_ref& operator=(const ap_bit_ref& b) { return *this = b.get(); }
};

template <int W, int I, bool S, ap_q_mode Q, ap_o_mode O, int N>
class ap_range_ref {
  typedef ap_fixed_base<W, I, S, Q, O, N> P;
  typedef typename P::word_t U;
  P* p_;
  int hi_, lo_;

  ap_range_ref& set(U v) {
    const U m = ap_detail::shl(ap_detail::mask<U>(length()), lo_);
    const U w = U((U(p_->V) & ~m) | (ap_detail::shl(v, lo_) & m));
    p_->V = typename P::code_t(ap_detail::extend<W, S>(w));
    return *this;
  }

 public:
  ap_range_ref(P& p, int hi, int lo) : p_(&p), hi_(hi), lo_(lo) {}
  ap_range_ref(const ap_range_ref&) = default;

  int length() const { return hi_ - lo_ + 1; }
  // Bits hi..lo as an unsigned number.
  U bits() const { return U(ap_detail::shr(U(p_->V), lo_) & ap_detail::mask<U>(length())); }
  unsigned long long to_uint64() const { return (unsigned long long)bits(); }
  long long to_int64() const { return (long long)bits(); }
  unsigned to_uint() const { return unsigned(bits()); }
  int to_int() const { return int(bits()); }
  ap_uint<W> get() const { return ap_uint<W>(*this); }
  operator unsigned long long() const { return to_uint64(); }

  template <class C, int = ap_detail::cint<C>::w>
  ap_range_ref& operator=(C v) {
    return set(U(v));
  }
  ap_range_ref& operator=(ap_detail::u128 v) { return set(U(v)); }
  ap_range_ref& operator=(ap_detail::i128 v) { return set(U(v)); }
  template <NNHLS_AP_PARAMS(2)>
  ap_range_ref& operator=(const NNHLS_AP_TYPE(2) & v) {
    return set(U(v.V));
  }
  template <NNHLS_AP_PARAMS(2)>
  ap_range_ref& operator=(const ap_range_ref<W2, I2, S2, Q2, O2, N2>& r) {
    return set(U(r.bits()));
  }
  template <NNHLS_AP_PARAMS(2)>
  ap_range_ref& operator=(const ap_bit_ref<W2, I2, S2, Q2, O2, N2>& b) {
    return set(U(bool(b)));
  }
  ap_range_ref& operator=(const ap_range_ref& r) { return set(r.bits()); }
};

namespace ap_detail {

// Bit and range proxies also act as ap_uint operands (a range as wide as its parent), so
// that "a + x.range(3, 0)" or "a == x[2]" does not tie between the floating overloads.
template <int W, int I, bool S, ap_q_mode Q, ap_o_mode O, int N>
struct cint<ap_range_ref<W, I, S, Q, O, N>, false, false> {
  static constexpr bool s = false;
  static constexpr int w = W;
  typedef ap_fixed_base<W, W, false> type;
  typedef bool bool_type;
  static bool neg(const ap_range_ref<W, I, S, Q, O, N>&) { return false; }
  static type make(const ap_range_ref<W, I, S, Q, O, N>& r) { return type(r); }
};
template <int W, int I, bool S, ap_q_mode Q, ap_o_mode O, int N>
struct cint<ap_bit_ref<W, I, S, Q, O, N>, false, false> {
  static constexpr bool s = false;
  static constexpr int w = 1;
  typedef ap_fixed_base<1, 1, false> type;
  typedef bool bool_type;
  static bool neg(const ap_bit_ref<W, I, S, Q, O, N>&) { return false; }
  static type make(const ap_bit_ref<W, I, S, Q, O, N>& b) { return type(bool(b)); }
};

}  // namespace ap_detail

// ---- binary arithmetic and bitwise operators ----
//
// ap op ap gives the full-precision type; a C++ integer acts as ap_int/ap_uint of its
// width; a floating-point operand makes the whole operation double.

#define NNHLS_AP_RT(A, B) ap_detail::rt<W##A, I##A, S##A, W##B, I##B, S##B>
#define NNHLS_AP_RT_AC(RT) \
  ap_detail::rt<W1, I1, S1, ap_detail::cint<C>::w, ap_detail::cint<C>::w, ap_detail::cint<C>::s>::RT
#define NNHLS_AP_RT_CA(RT) \
  ap_detail::rt<ap_detail::cint<C>::w, ap_detail::cint<C>::w, ap_detail::cint<C>::s, W2, I2, S2>::RT

#define NNHLS_AP_INT_OP(OP, RT, FN)                                                                       \
  template <NNHLS_AP_PARAMS(1), NNHLS_AP_PARAMS(2)>                                                       \
  inline typename NNHLS_AP_RT(1, 2)::RT operator OP(const NNHLS_AP_TYPE(1) & a, const NNHLS_AP_TYPE(2) & b) { \
    return ap_detail::FN<typename NNHLS_AP_RT(1, 2)::RT>(a, b);                                           \
  }                                                                                                       \
  template <NNHLS_AP_PARAMS(1), class C>                                                                  \
  inline typename NNHLS_AP_RT_AC(RT) operator OP(const NNHLS_AP_TYPE(1) & a, C b) {                       \
    return a OP ap_detail::cint<C>::make(b);                                                              \
  }                                                                                                       \
  template <NNHLS_AP_PARAMS(2), class C>                                                                  \
  inline typename NNHLS_AP_RT_CA(RT) operator OP(C a, const NNHLS_AP_TYPE(2) & b) {                       \
    return ap_detail::cint<C>::make(a) OP b;                                                              \
  }

// One overload per floating type: relying on promotion to double would tie with the
// built-in operator reached through the implicit conversion.
#define NNHLS_AP_FLOAT_OP(OP, FP)                                          \
  template <NNHLS_AP_PARAMS(1)>                                            \
  inline double operator OP(const NNHLS_AP_TYPE(1) & a, FP b) {            \
    return a.to_double() OP double(b);                                     \
  }                                                                        \
  template <NNHLS_AP_PARAMS(2)>                                            \
  inline double operator OP(FP a, const NNHLS_AP_TYPE(2) & b) {            \
    return double(a) OP b.to_double();                                     \
  }

#define NNHLS_AP_ARITH_OP(OP, RT, FN) \
  NNHLS_AP_INT_OP(OP, RT, FN)         \
  NNHLS_AP_FLOAT_OP(OP, float)        \
  NNHLS_AP_FLOAT_OP(OP, double)       \
  NNHLS_AP_FLOAT_OP(OP, long double)

NNHLS_AP_ARITH_OP(+, plus, add)
NNHLS_AP_ARITH_OP(-, minus, sub)
NNHLS_AP_ARITH_OP(*, mult, mul)
NNHLS_AP_ARITH_OP(/, div, div)
NNHLS_AP_INT_OP(%, mod, mod)
NNHLS_AP_INT_OP(&, logic, band)
NNHLS_AP_INT_OP(|, logic, bor)
NNHLS_AP_INT_OP(^, logic, bxor)

// ---- comparisons: exact for every pair of operand types ----

#define NNHLS_AP_CMP_FLOAT_OP(OP, UNORDERED, FP)                                         \
  template <NNHLS_AP_PARAMS(1)>                                                          \
  inline bool operator OP(const NNHLS_AP_TYPE(1) & a, FP b) {                            \
    const int c = ap_detail::compare_double(a, double(b));                               \
    return c == 2 ? UNORDERED : c OP 0;                                                  \
  }                                                                                      \
  template <NNHLS_AP_PARAMS(2)>                                                          \
  inline bool operator OP(FP a, const NNHLS_AP_TYPE(2) & b) {                            \
    const int c = ap_detail::compare_double(b, double(a));                               \
    return c == 2 ? UNORDERED : 0 OP c;                                                  \
  }

#define NNHLS_AP_CMP_OP(OP, UNORDERED)                                                   \
  template <NNHLS_AP_PARAMS(1), NNHLS_AP_PARAMS(2)>                                      \
  inline bool operator OP(const NNHLS_AP_TYPE(1) & a, const NNHLS_AP_TYPE(2) & b) {      \
    return ap_detail::compare(a, b) OP 0;                                                \
  }                                                                                      \
  template <NNHLS_AP_PARAMS(1), class C>                                                 \
  inline typename ap_detail::cint<C>::bool_type operator OP(const NNHLS_AP_TYPE(1) & a, C b) { \
    return ap_detail::compare(a, ap_detail::cint<C>::make(b)) OP 0;                      \
  }                                                                                      \
  template <NNHLS_AP_PARAMS(2), class C>                                                 \
  inline typename ap_detail::cint<C>::bool_type operator OP(C a, const NNHLS_AP_TYPE(2) & b) { \
    return ap_detail::compare(ap_detail::cint<C>::make(a), b) OP 0;                      \
  }                                                                                      \
  NNHLS_AP_CMP_FLOAT_OP(OP, UNORDERED, float)                                            \
  NNHLS_AP_CMP_FLOAT_OP(OP, UNORDERED, double)                                           \
  NNHLS_AP_CMP_FLOAT_OP(OP, UNORDERED, long double)

NNHLS_AP_CMP_OP(==, false)
NNHLS_AP_CMP_OP(!=, true)
NNHLS_AP_CMP_OP(<, false)
NNHLS_AP_CMP_OP(<=, false)
NNHLS_AP_CMP_OP(>, false)
NNHLS_AP_CMP_OP(>=, false)

// Integer types print as integers when they fit 64 bits; everything else via to_double().
template <class Ch, class Tr, NNHLS_AP_PARAMS(1)>
inline std::basic_ostream<Ch, Tr>& operator<<(std::basic_ostream<Ch, Tr>& os, const NNHLS_AP_TYPE(1) & x) {
  if (W1 == I1 && W1 <= 64) {
    if (S1) return os << (long long)x.V;
    return os << (unsigned long long)x.V;
  }
  return os << x.to_double();
}

#undef NNHLS_AP_CMP_OP
#undef NNHLS_AP_CMP_FLOAT_OP
#undef NNHLS_AP_FLOAT_OP
#undef NNHLS_AP_ARITH_OP
#undef NNHLS_AP_INT_OP
#undef NNHLS_AP_RT_CA
#undef NNHLS_AP_RT_AC
#undef NNHLS_AP_RT
#undef NNHLS_AP_TYPE
#undef NNHLS_AP_PARAMS

#endif  // NNHLS_AP_INT_H

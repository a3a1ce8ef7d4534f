// exp and erf written so that the compiler can vectorise loops over them
// (the C library's are opaque calls, one value at a time). Their naive twins
// are std::exp and std::erf; tests/unit/test_fastmath.cpp holds them to
// those: relative error below 3e-7 (exp), and absolute below 4e-7 (erf, whose
// values near 1 are themselves only exact to 6e-8 in float).
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>

namespace vitrace {

// e^x = 2^k · e^r with k = round(x / ln 2) and |r| <= ln(2)/2, where e^r is its
// Taylor series to r^7 (the first term left out is below 2e-9) and 2^k is
// built directly as the float's exponent bits. NaN stays NaN; below -87 the
// result is about 1e-38 rather than a denormal, which no sum here can tell apart.
//
// Every branch is a select, so loops over it vectorise; the core is compiled
// with -fno-trapping-math, without which GCC keeps the float-to-int conversion
// out of vectorised selects.
inline float exp_fast(float x) {
    constexpr float log2e = 1.44269504088896341f;
    constexpr float ln2_hi = 0.693145751953125f;     // ln 2 split in two, so that
    constexpr float ln2_lo = 1.428606765330187e-06f;  // k·ln2_hi is exact in float
    float xc = std::clamp(x, -87.0f, 88.0f);
    xc = xc == xc ? xc : 0.0f;  // NaN: compute anything, return NaN below
    // k = round(xc / ln 2), by truncating a value made positive
    const float k = static_cast<float>(static_cast<int32_t>(xc * log2e + 128.5f)) - 128.0f;
    const float r = (xc - k * ln2_hi) - k * ln2_lo;
    const float p =
        1.0f + r * (1.0f + r * (0.5f + r * (1.0f / 6 + r * (1.0f / 24 + r * (1.0f / 120 + r * (1.0f / 720 + r * (1.0f / 5040)))))));
    const int32_t bits = static_cast<int32_t>(k + 127.0f) << 23;  // 2^k as a float's exponent field
    float two_k;
    std::memcpy(&two_k, &bits, sizeof two_k);
    // Adding 0 (or NaN for a NaN input) keeps the result free of a select on
    // the conversion above, which would stop the loop from vectorising.
    const float nan_or_zero = x == x ? 0.0f : x;
    return p * two_k + nan_or_zero;
}

// erf(x) = x · P(x²) / Q(x²) for |x| <= 4, a rational fit of degrees 6 and 4
// made by tests/reference/fit_erf.py (its largest error is 6e-8; evaluated in
// float, within 4e-7 of std::erf, a few ulps of 1). Past 4, erf(x) rounds to
// ±1 in float, so |x| is clamped there, and the result to [-1, 1]. One
// division and twelve multiply-adds, and no exponential: in a vector loop it
// is several times faster than erf through e^(-x²).
// NaN stays NaN (std::min keeps its first argument when the comparison fails).
inline float erf_fast(float x) {
    const float a = std::min(std::fabs(x), 4.0f);
    const float u = a * a;
    const float p =
        1.1283786815283519f +
        u * (0.2138981006585472f +
             u * (0.052427780557793117f +
                  u * (0.0042911635916449212f +
                       u * (0.00015549473984818331f + u * (-1.9902839667219896e-06f + u * 1.9220481456416749e-08f)))));
    const float q =
        1.0f + u * (0.52288995042389419f + u * (0.12078072904283736f + u * (0.01554735903269111f + u * 0.001097585925765452f)));
    return std::copysign(std::min(a * p / q, 1.0f), x);
}

}  // namespace vitrace

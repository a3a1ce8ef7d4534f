// exp and erfc written so that the compiler can vectorise loops over them
// (the C library's are opaque calls, one value at a time). Their naive twins
// are std::exp and std::erfc; tests/unit/test_fastmath.cpp holds them to
// those: relative error below 3e-7 (exp), and absolute below 3e-7 (erfc, whose
// values near 2 are themselves only exact to 2.4e-7 in float).
#pragma once

#include <algorithm>
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

// erfc(z) = t · e^(-z² + P(t)), t = 1 / (1 + |z|/2), for z >= 0, and 2 - erfc(-z)
// for z < 0. P is the Chebyshev fit published in Numerical Recipes ("erfcc"),
// fractional error below 1.2e-7 for every z.
inline float erfc_fast(float z) {
    const float a = z < 0 ? -z : z;
    const float t = 1.0f / (1.0f + 0.5f * a);
    const float p =
        -1.26551223f +
        t * (1.00002368f +
             t * (0.37409196f +
                  t * (0.09678418f +
                       t * (-0.18628806f +
                            t * (0.27886807f + t * (-1.13520398f + t * (1.48851587f + t * (-0.82215223f + t * 0.17087277f))))))));
    const float r = t * exp_fast(-a * a + p);
    return z >= 0 ? r : 2.0f - r;
}

}  // namespace vitrace

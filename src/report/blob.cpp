#include "report/blob.h"

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstring>

namespace vitrace::report {

static_assert(std::endian::native == std::endian::little, "the page's blobs are little-endian");

std::string base64(const void* bytes, size_t size) {
    static constexpr char kDigits[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    const auto* b = static_cast<const uint8_t*>(bytes);
    std::string out;
    out.resize((size + 2) / 3 * 4);
    char* o = out.data();
    size_t i = 0;
    for (; i + 3 <= size; i += 3) {  // three bytes become four digits of six bits
        const uint32_t v = (uint32_t)b[i] << 16 | (uint32_t)b[i + 1] << 8 | b[i + 2];
        *o++ = kDigits[v >> 18];
        *o++ = kDigits[(v >> 12) & 63];
        *o++ = kDigits[(v >> 6) & 63];
        *o++ = kDigits[v & 63];
    }
    if (i < size) {  // one or two bytes left: pad with '='
        const uint32_t v = (uint32_t)b[i] << 16 | (i + 1 < size ? (uint32_t)b[i + 1] << 8 : 0);
        *o++ = kDigits[v >> 18];
        *o++ = kDigits[(v >> 12) & 63];
        *o++ = i + 1 < size ? kDigits[(v >> 6) & 63] : '=';
        *o++ = '=';
    }
    return out;
}

uint16_t to_half(float x) {
    const uint32_t f = std::bit_cast<uint32_t>(x);
    const uint16_t sign = (f >> 16) & 0x8000;
    const int32_t exp = (int32_t)((f >> 23) & 0xff) - 127 + 15;  // the exponent, rebiased for half
    uint32_t mant = f & 0x7fffff;
    if (((f >> 23) & 0xff) == 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0);  // inf, NaN
    if (exp >= 31) return sign | 0x7c00;                                       // too large: inf
    if (exp <= 0) {                                                             // a half subnormal, or 0
        if (exp < -10) return sign;
        mant |= 0x800000;
        const int shift = 14 - exp;
        uint32_t h = mant >> shift;
        const uint32_t rest = mant & ((1u << shift) - 1), half = 1u << (shift - 1);
        if (rest > half || (rest == half && (h & 1))) h++;
        return sign | (uint16_t)h;
    }
    uint32_t h = (uint32_t)exp << 10 | mant >> 13;
    const uint32_t rest = mant & 0x1fff;
    if (rest > 0x1000 || (rest == 0x1000 && (h & 1))) h++;  // a carry into the exponent is right, up to inf
    return sign | (uint16_t)h;
}

float from_half(uint16_t h) {
    const uint32_t sign = (uint32_t)(h & 0x8000) << 16;
    const uint32_t exp = (h >> 10) & 31, mant = h & 0x3ff;
    if (exp == 0) return std::bit_cast<float>(sign) + (sign ? -1.0f : 1.0f) * std::ldexp((float)mant, -24);
    if (exp == 31) return std::bit_cast<float>(sign | 0x7f800000 | mant << 13);
    return std::bit_cast<float>(sign | (exp - 15 + 127) << 23 | mant << 13);
}

namespace {

nlohmann::ordered_json blob(const char* dtype, const Shape& shape, std::string data) {
    return {{"dtype", dtype}, {"shape", shape}, {"data", std::move(data)}};
}

int64_t count(const Shape& shape) {
    int64_t n = 1;
    for (int64_t d : shape) n *= d;
    return n;
}

}  // namespace

nlohmann::ordered_json f32_blob(const float* x, const Shape& shape) {
    return blob("f32", shape, base64(x, (size_t)count(shape) * sizeof(float)));
}

nlohmann::ordered_json f16_blob(const float* x, const Shape& shape) {
    std::vector<uint16_t> h((size_t)count(shape));
    for (size_t i = 0; i < h.size(); i++) h[i] = to_half(x[i]);
    return blob("f16", shape, base64(h.data(), h.size() * sizeof(uint16_t)));
}

nlohmann::ordered_json u8_blob(const uint8_t* x, const Shape& shape) {
    return blob("u8", shape, base64(x, (size_t)count(shape)));
}

nlohmann::ordered_json u8_rows_blob(const float* x, const Shape& shape) {
    const int64_t n = count(shape), len = shape.empty() ? 1 : shape.back(), rows = len ? n / len : 0;
    std::vector<uint8_t> q((size_t)n);
    std::vector<float> lo((size_t)rows), hi((size_t)rows);
    for (int64_t r = 0; r < rows; r++) {
        const float* x_r = &x[r * len];  // x[..., r, :]
        float a = INFINITY, b = -INFINITY;
        for (int64_t i = 0; i < len; i++)
            if (std::isfinite(x_r[i])) a = std::min(a, x_r[i]), b = std::max(b, x_r[i]);
        if (a > b) a = b = 0;  // no finite value in the row
        lo[r] = a;
        hi[r] = b;
        const float step = b > a ? 255.0f / (b - a) : 0.0f;
        for (int64_t i = 0; i < len; i++) {
            const float v = std::isfinite(x_r[i]) ? x_r[i] : a;
            q[r * len + i] = (uint8_t)std::lround((v - a) * step);
        }
    }
    nlohmann::ordered_json j = blob("u8", shape, base64(q.data(), q.size()));
    j["lo"] = f32_blob(lo.data(), {rows});
    j["hi"] = f32_blob(hi.data(), {rows});
    return j;
}

Shape pooled_shape(const Shape& shape, const std::vector<int64_t>& pool) {
    Shape out(shape.size());
    for (size_t d = 0; d < shape.size(); d++) out[d] = (shape[d] + pool[d] - 1) / pool[d];
    return out;
}

std::vector<float> pool_means(const float* x, const Shape& shape, const std::vector<int64_t>& pool) {
    const Shape ps = pooled_shape(shape, pool);
    std::vector<double> sum((size_t)count(ps), 0.0);
    std::vector<int32_t> cnt(sum.size(), 0);
    if (shape.empty()) return {x[0]};
    const int64_t rank = (int64_t)shape.size(), len = shape.back(), rows = len ? count(shape) / len : 0;
    std::vector<int64_t> col_block((size_t)len);  // the last axis's block of each entry
    for (int64_t i = 0; i < len; i++) col_block[i] = i / pool.back();
    // Walk the rows of the last axis in order, with the multi-index `at` of the row.
    std::vector<int64_t> at((size_t)rank, 0);
    for (int64_t r = 0; r < rows; r++) {
        int64_t base = 0;  // the flat block index of the row's first entry
        for (int64_t d = 0; d + 1 < rank; d++) base = base * ps[d] + at[d] / pool[d];
        base *= ps.back();
        const float* x_r = &x[r * len];
        for (int64_t i = 0; i < len; i++)
            if (std::isfinite(x_r[i])) sum[base + col_block[i]] += x_r[i], cnt[base + col_block[i]]++;
        for (int64_t d = rank - 2; d >= 0 && ++at[d] == shape[d]; d--) at[d] = 0;
    }
    std::vector<float> out(sum.size());
    for (size_t b = 0; b < out.size(); b++) out[b] = cnt[b] ? (float)(sum[b] / cnt[b]) : NAN;
    return out;
}

std::vector<int64_t> pool_to_fit(const Shape& shape, int64_t limit) {
    // One block length f for every axis longer than 16, the smallest that fits.
    int64_t longest = 1;
    for (int64_t d : shape) longest = std::max(longest, d);
    std::vector<int64_t> pool(shape.size(), 1);
    for (int64_t f = 1; f <= longest; f++) {
        for (size_t d = 0; d < shape.size(); d++) pool[d] = shape[d] > 16 ? std::min(f, shape[d]) : 1;
        if (count(pooled_shape(shape, pool)) <= limit) return pool;
    }
    // Only the short axes are left to shrink: the longest of them first.
    while (count(pooled_shape(shape, pool)) > limit) {
        const Shape ps = pooled_shape(shape, pool);
        const size_t d = std::max_element(ps.begin(), ps.end()) - ps.begin();
        if (ps[d] <= 1) break;
        pool[d]++;
    }
    return pool;
}

}  // namespace vitrace::report

// Arrays of numbers as the HTML page carries them: "blobs" of float32,
// float16 or 8-bit values, little-endian and base64-encoded inside the page's
// JSON (docs/report.md, "Blobs").
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/tensor.h"

namespace vitrace::report {

std::string base64(const void* bytes, size_t size);

// The IEEE half-precision bits nearest to x (ties to even; overflow gives ±inf).
uint16_t to_half(float x);
float from_half(uint16_t h);

// {dtype: "f32", shape, data}
nlohmann::ordered_json f32_blob(const float* x, const Shape& shape);
// {dtype: "f16", shape, data}
nlohmann::ordered_json f16_blob(const float* x, const Shape& shape);
// {dtype: "u8", shape, data}: bytes that are the values themselves (a picture's 0..255)
nlohmann::ordered_json u8_blob(const uint8_t* x, const Shape& shape);
// {dtype: "u8", shape, data, lo, hi}: each row of the last axis quantised to
// 0..255 between its own min (lo) and max (hi).
nlohmann::ordered_json u8_rows_blob(const float* x, const Shape& shape);

// Block means: along each axis d, every pool[d] consecutive entries become one
// (the last block may be shorter). The result has shape ceil(shape[d] / pool[d]).
std::vector<float> pool_means(const float* x, const Shape& shape, const std::vector<int64_t>& pool);
Shape pooled_shape(const Shape& shape, const std::vector<int64_t>& pool);

// Block sizes that bring a tensor of `shape` to at most `limit` values: one
// length f for every axis of more than 16 entries, the smallest that fits;
// axes of at most 16 entries (heads, q/k/v, rgb) are kept whole unless nothing
// else can shrink.
std::vector<int64_t> pool_to_fit(const Shape& shape, int64_t limit);

}  // namespace vitrace::report

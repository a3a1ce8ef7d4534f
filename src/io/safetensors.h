// safetensors files: an 8-byte little-endian header length, a JSON header, and
// one byte buffer that the header's data_offsets cut into tensors.
//
// Everything the header says is checked before any tensor is read: the header
// length against the file, the JSON, every dtype, shape and offset pair, that
// each tensor's bytes are product(shape) × dtype size, that the tensors cover
// the buffer exactly once (no overlaps, no holes), and that no name repeats.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "core/tensor.h"

namespace vitrace {

inline constexpr uint64_t kMaxSafetensorsHeader = 100ull * 1000 * 1000;  // 100 MB

enum class DType { F64, F32, F16, BF16, I64, I32, I16, I8, U64, U32, U16, U8, BOOL };

const char* dtype_name(DType d);
int dtype_size(DType d);
bool dtype_is_float(DType d);

struct TensorEntry {
    std::string name;
    DType dtype = DType::F32;
    Shape shape;
    uint64_t begin = 0, end = 0;  // byte range within the data buffer
};

// Where the bytes come from: a file on disk, or memory (tests and fuzzers).
struct ByteSource {
    virtual ~ByteSource() = default;
    virtual uint64_t size() const = 0;
    // Reads n bytes at offset; throws Error(Checkpoint) when it cannot.
    virtual void read(uint64_t offset, void* dst, size_t n) = 0;
};

class SafetensorsFile {
public:
    // Opens and validates; throws Error(Checkpoint) naming the file and the fault.
    static SafetensorsFile open(const std::string& path);
    static SafetensorsFile from_memory(std::string bytes, const std::string& what);

    const std::string& what() const { return what_; }  // "'path'" for messages
    const std::vector<TensorEntry>& tensors() const { return tensors_; }  // in header order
    const TensorEntry* find(const std::string& name) const;
    const std::map<std::string, std::string>& metadata() const { return metadata_; }

    // Reads a tensor as float32 (F32, F16, BF16 and F64 convert exactly or by
    // rounding; integer dtypes convert by value). out must hold numel floats.
    void read_floats(const TensorEntry& t, float* out) const;

private:
    SafetensorsFile(std::unique_ptr<ByteSource> src, std::string what);
    void parse();

    std::unique_ptr<ByteSource> src_;
    std::string what_;
    uint64_t data_start_ = 0;
    std::vector<TensorEntry> tensors_;
    std::map<std::string, size_t> index_;
    std::map<std::string, std::string> metadata_;
};

// The bytes before the data: the 8-byte length and the JSON header naming each
// tensor's dtype, shape and byte range, with __metadata__ when not empty.
std::string safetensors_header(const std::vector<TensorEntry>& tensors, const std::map<std::string, std::string>& metadata);

// Writes a safetensors file's bytes from float32 tensors, in the given order.
std::string make_safetensors(const std::vector<std::pair<std::string, const Tensor*>>& tensors);

float half_to_float(uint16_t h);
float bfloat16_to_float(uint16_t b);

}  // namespace vitrace

#include "io/safetensors.h"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <set>

#include <nlohmann/json.hpp>

namespace vitrace {

namespace {

struct DTypeInfo {
    const char* name;
    DType dtype;
    int size;
};

constexpr DTypeInfo kDTypes[] = {
    {"F64", DType::F64, 8}, {"F32", DType::F32, 4}, {"F16", DType::F16, 2}, {"BF16", DType::BF16, 2},
    {"I64", DType::I64, 8}, {"I32", DType::I32, 4}, {"I16", DType::I16, 2}, {"I8", DType::I8, 1},
    {"U64", DType::U64, 8}, {"U32", DType::U32, 4}, {"U16", DType::U16, 2}, {"U8", DType::U8, 1},
    {"BOOL", DType::BOOL, 1},
};

const DTypeInfo& info(DType d) {
    for (const auto& i : kDTypes)
        if (i.dtype == d) return i;
    return kDTypes[1];
}

class FileSource : public ByteSource {
public:
    FileSource(const std::string& path, const std::string& what) : f_(path, std::ios::binary), what_(what) {
        if (!f_) throw Error(ErrorKind::Checkpoint, "checkpoint " + what + ": cannot open it (" +
                                                        std::strerror(errno) + ")");
        // A directory opens as a stream whose size reads as some huge number.
        std::error_code ec;
        if (std::filesystem::is_directory(path, ec))
            throw Error(ErrorKind::Checkpoint, "checkpoint " + what + ": it is a directory; give a .safetensors file");
        f_.seekg(0, std::ios::end);
        const std::streamoff n = f_.tellg();
        if (n < 0) throw Error(ErrorKind::Checkpoint, "checkpoint " + what + ": cannot read its size");
        size_ = static_cast<uint64_t>(n);
    }
    uint64_t size() const override { return size_; }
    void read(uint64_t offset, void* dst, size_t n) override {
        f_.clear();
        f_.seekg(static_cast<std::streamoff>(offset));
        if (!f_.read(static_cast<char*>(dst), static_cast<std::streamsize>(n)))
            throw Error(ErrorKind::Checkpoint, "checkpoint " + what_ + ": read of " + std::to_string(n) +
                                                   " bytes at offset " + std::to_string(offset) + " failed");
    }

private:
    std::ifstream f_;
    std::string what_;
    uint64_t size_ = 0;
};

class MemorySource : public ByteSource {
public:
    explicit MemorySource(std::string bytes) : bytes_(std::move(bytes)) {}
    uint64_t size() const override { return bytes_.size(); }
    void read(uint64_t offset, void* dst, size_t n) override {
        if (offset > bytes_.size() || n > bytes_.size() - offset)
            throw Error(ErrorKind::Internal, "memory read past the end");
        if (n > 0) std::memcpy(dst, bytes_.data() + offset, n);  // a tensor of 0 values may have no buffer (null dst)
    }

private:
    std::string bytes_;
};

// Multiplies without overflow; false when the product does not fit.
bool checked_mul(uint64_t a, uint64_t b, uint64_t* out) {
    if (a != 0 && b > std::numeric_limits<uint64_t>::max() / a) return false;
    *out = a * b;
    return true;
}

}  // namespace

const char* dtype_name(DType d) { return info(d).name; }
int dtype_size(DType d) { return info(d).size; }
bool dtype_is_float(DType d) { return d == DType::F64 || d == DType::F32 || d == DType::F16 || d == DType::BF16; }

float half_to_float(uint16_t h) {
    const uint32_t sign = (uint32_t)(h >> 15) << 31;
    const int exp = (h >> 10) & 0x1F;
    const uint32_t mant = h & 0x3FF;
    uint32_t bits;
    if (exp == 0x1F) {
        bits = sign | 0x7F800000u | (mant << 13);  // inf or NaN
    } else if (exp == 0) {
        // zero or subnormal: mant · 2^-24, exact in float
        const float v = std::ldexp(static_cast<float>(mant), -24);
        return sign ? -v : v;
    } else {
        bits = sign | (uint32_t)(exp - 15 + 127) << 23 | (mant << 13);
    }
    float f;
    std::memcpy(&f, &bits, 4);
    return f;
}

float bfloat16_to_float(uint16_t b) {
    const uint32_t bits = (uint32_t)b << 16;
    float f;
    std::memcpy(&f, &bits, 4);
    return f;
}

SafetensorsFile::SafetensorsFile(std::unique_ptr<ByteSource> src, std::string what)
    : src_(std::move(src)), what_(std::move(what)) {}

SafetensorsFile SafetensorsFile::open(const std::string& path) {
    const std::string what = "'" + path + "'";
    SafetensorsFile f(std::make_unique<FileSource>(path, what), what);
    f.parse();
    return f;
}

SafetensorsFile SafetensorsFile::from_memory(std::string bytes, const std::string& what) {
    SafetensorsFile f(std::make_unique<MemorySource>(std::move(bytes)), what);
    f.parse();
    return f;
}

void SafetensorsFile::parse() {
    auto fail = [&](const std::string& why) { throw Error(ErrorKind::Checkpoint, "checkpoint " + what_ + ": " + why); };

    const uint64_t file_size = src_->size();
    if (file_size < 8)
        fail("too short for a safetensors file: " + std::to_string(file_size) +
             " bytes, and the header length alone takes 8");
    uint8_t len_bytes[8];
    src_->read(0, len_bytes, 8);
    uint64_t header_len = 0;
    for (int i = 7; i >= 0; i--) header_len = header_len << 8 | len_bytes[i];
    if (header_len > kMaxSafetensorsHeader)
        fail("header length " + std::to_string(header_len) + " bytes is above the 100 MB limit");
    if (header_len > file_size - 8)
        fail("header length " + std::to_string(header_len) + " bytes runs past the end of the file (" +
             std::to_string(file_size) + " bytes)");
    std::string header(header_len, '\0');
    src_->read(8, header.data(), header_len);
    data_start_ = 8 + header_len;
    const uint64_t data_size = file_size - data_start_;

    // Parse, refusing repeated names: a JSON parser would silently keep the last.
    // ordered_json keeps the tensors in header order; plain json would sort them by name.
    using Json = nlohmann::ordered_json;
    std::set<std::string> seen;
    std::string duplicate;
    Json j;
    try {
        j = Json::parse(header, [&](int depth, Json::parse_event_t event, Json& parsed) {
            if (depth == 1 && event == Json::parse_event_t::key && parsed.is_string()) {
                const auto& key = parsed.get_ref<const std::string&>();
                if (!seen.insert(key).second && duplicate.empty()) duplicate = key;
            }
            return true;
        });
    } catch (const Json::exception& e) {
        fail(std::string("the header is not valid JSON (") + e.what() + ")");
    }
    if (!duplicate.empty()) fail("tensor name '" + duplicate + "' appears twice in the header");
    if (!j.is_object()) fail(std::string("the header is JSON but not an object (it is ") + j.type_name() + ")");

    for (auto& [name, entry] : j.items()) {
        if (name == "__metadata__") {
            if (!entry.is_object()) fail("__metadata__ is not an object");
            for (auto& [k, v] : entry.items()) {
                if (!v.is_string()) fail("__metadata__ value of '" + k + "' is not a string");
                metadata_[k] = v.get<std::string>();
            }
            continue;
        }
        const std::string where = "tensor '" + name + "'";
        if (!entry.is_object()) fail(where + " is not a JSON object");
        if (!entry.contains("dtype") || !entry["dtype"].is_string()) fail(where + " has no dtype string");
        if (!entry.contains("shape") || !entry["shape"].is_array()) fail(where + " has no shape array");
        if (!entry.contains("data_offsets") || !entry["data_offsets"].is_array() || entry["data_offsets"].size() != 2)
            fail(where + " has no data_offsets pair");

        TensorEntry t;
        t.name = name;
        const std::string dtype = entry["dtype"].get<std::string>();
        const DTypeInfo* di = nullptr;
        for (const auto& i : kDTypes)
            if (dtype == i.name) di = &i;
        if (!di) fail(where + " has unknown dtype '" + dtype + "'");
        t.dtype = di->dtype;

        uint64_t count = 1;
        for (const auto& d : entry["shape"]) {
            if (!d.is_number_unsigned()) fail(where + " has a shape entry that is not a non-negative integer");
            const uint64_t v = d.get<uint64_t>();
            if (v > (uint64_t)std::numeric_limits<int64_t>::max() || !checked_mul(count, v, &count))
                fail(where + " has a shape whose element count overflows");
            t.shape.push_back(static_cast<int64_t>(v));
        }
        for (const auto& o : entry["data_offsets"])
            if (!o.is_number_unsigned()) fail(where + " has data_offsets that are not non-negative integers");
        t.begin = entry["data_offsets"][0].get<uint64_t>();
        t.end = entry["data_offsets"][1].get<uint64_t>();
        if (t.begin > t.end || t.end > data_size)
            fail(where + " has data_offsets [" + std::to_string(t.begin) + ", " + std::to_string(t.end) +
                 "] outside the data buffer of " + std::to_string(data_size) + " bytes");
        uint64_t bytes = 0;
        if (!checked_mul(count, (uint64_t)di->size, &bytes) || bytes != t.end - t.begin)
            fail(where + " has " + std::to_string(t.end - t.begin) + " bytes, but shape " + shape_str(t.shape) +
                 " of " + dtype + " needs " +
                 (checked_mul(count, (uint64_t)di->size, &bytes) ? std::to_string(bytes) : std::string("more than 2^64")));
        tensors_.push_back(std::move(t));
    }

    // The tensors must tile the data buffer: sorted by offset, each one starts
    // where the previous ended, and the last ends at the end of the file.
    std::vector<const TensorEntry*> order;
    for (const auto& t : tensors_) order.push_back(&t);
    std::sort(order.begin(), order.end(), [](const TensorEntry* a, const TensorEntry* b) {
        return a->begin != b->begin ? a->begin < b->begin : a->end < b->end;
    });
    uint64_t pos = 0;
    for (const TensorEntry* t : order) {
        if (t->begin < pos) fail("tensor '" + t->name + "' overlaps the tensor before it (bytes " +
                                 std::to_string(t->begin) + " to " + std::to_string(pos) + ")");
        if (t->begin > pos) fail("bytes " + std::to_string(pos) + " to " + std::to_string(t->begin) +
                                 " of the data buffer belong to no tensor");
        pos = t->end;
    }
    if (pos != data_size)
        fail("the data buffer has " + std::to_string(data_size) + " bytes but the tensors cover " +
             std::to_string(pos));

    for (size_t i = 0; i < tensors_.size(); i++) index_[tensors_[i].name] = i;
}

const TensorEntry* SafetensorsFile::find(const std::string& name) const {
    auto it = index_.find(name);
    return it == index_.end() ? nullptr : &tensors_[it->second];
}

void SafetensorsFile::read_floats(const TensorEntry& t, float* out) const {
    const uint64_t n = t.end - t.begin;
    const int64_t count = numel(t.shape);
    if (t.dtype == DType::F32) {
        src_->read(data_start_ + t.begin, out, n);
        return;
    }
    std::vector<uint8_t> raw(n);
    src_->read(data_start_ + t.begin, raw.data(), n);
    const uint8_t* p = raw.data();
    auto load = [&](auto tag, int64_t i) {
        decltype(tag) v;
        std::memcpy(&v, p + i * sizeof(v), sizeof(v));
        return v;
    };
    for (int64_t i = 0; i < count; i++) {
        switch (t.dtype) {
            case DType::F64: out[i] = static_cast<float>(load(double{}, i)); break;
            case DType::F16: out[i] = half_to_float(load(uint16_t{}, i)); break;
            case DType::BF16: out[i] = bfloat16_to_float(load(uint16_t{}, i)); break;
            case DType::I64: out[i] = static_cast<float>(load(int64_t{}, i)); break;
            case DType::I32: out[i] = static_cast<float>(load(int32_t{}, i)); break;
            case DType::I16: out[i] = static_cast<float>(load(int16_t{}, i)); break;
            case DType::I8: out[i] = static_cast<float>(load(int8_t{}, i)); break;
            case DType::U64: out[i] = static_cast<float>(load(uint64_t{}, i)); break;
            case DType::U32: out[i] = static_cast<float>(load(uint32_t{}, i)); break;
            case DType::U16: out[i] = static_cast<float>(load(uint16_t{}, i)); break;
            case DType::U8: case DType::BOOL: out[i] = static_cast<float>(p[i]); break;
            case DType::F32: break;
        }
    }
}

std::string safetensors_header(const std::vector<TensorEntry>& tensors, const std::map<std::string, std::string>& metadata) {
    nlohmann::ordered_json header = nlohmann::ordered_json::object();
    if (!metadata.empty()) header["__metadata__"] = metadata;
    for (const TensorEntry& t : tensors)
        header[t.name] = {{"dtype", dtype_name(t.dtype)}, {"shape", t.shape}, {"data_offsets", {t.begin, t.end}}};
    std::string h = header.dump();
    while ((8 + h.size()) % 8 != 0) h += ' ';  // keeps the data 8-byte aligned, as the format suggests
    std::string out(8, '\0');
    const uint64_t len = h.size();
    for (int i = 0; i < 8; i++) out[i] = static_cast<char>((len >> (8 * i)) & 0xFF);
    return out + h;
}

std::string make_safetensors(const std::vector<std::pair<std::string, const Tensor*>>& tensors) {
    std::vector<TensorEntry> entries;
    uint64_t offset = 0;
    for (const auto& [name, t] : tensors) {
        const uint64_t bytes = static_cast<uint64_t>(t->numel()) * 4;
        entries.push_back({name, DType::F32, t->shape, offset, offset + bytes});
        offset += bytes;
    }
    std::string out = safetensors_header(entries, {});
    for (const auto& [name, t] : tensors)
        out.append(reinterpret_cast<const char*>(t->ptr()), static_cast<size_t>(t->numel()) * 4);
    return out;
}

}  // namespace vitrace

// safetensors: what make_safetensors writes reads back unchanged; F16, BF16,
// F64 and I64 convert to the floats worked out by hand; and every malformed
// file, built byte by byte below, is refused with a message naming the fault.
#include <boost/test/unit_test.hpp>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <string>
#include <vector>

#include "../test_util.h"
#include "io/safetensors.h"

using namespace vitrace;
using namespace vitrace::test;

namespace {

std::string le64(uint64_t v) {
    std::string s(8, '\0');
    for (int i = 0; i < 8; i++) s[i] = static_cast<char>((v >> (8 * i)) & 0xFF);
    return s;
}

// A safetensors file by hand: header length, header JSON, data bytes.
std::string safetensors_bytes(const std::string& header, const std::string& data) {
    return le64(header.size()) + header + data;
}

std::string zero_bytes(size_t n) { return std::string(n, '\0'); }

// The bytes of values as this (little-endian) machine stores them, as the format does.
template <class T>
std::string raw(const std::vector<T>& values) {
    return std::string(reinterpret_cast<const char*>(values.data()), values.size() * sizeof(T));
}

// Reads the one tensor of a file as floats.
std::vector<float> read_only_tensor(const SafetensorsFile& f) {
    BOOST_REQUIRE_EQUAL(f.tensors().size(), 1u);
    const TensorEntry& t = f.tensors()[0];
    std::vector<float> out(numel(t.shape));
    f.read_floats(t, out.data());
    return out;
}

// The file must be refused with `phrase` in a message that also names it.
void check_refused(const std::string& bytes, const std::string& phrase) {
    check_error(ErrorKind::Checkpoint, [&] { SafetensorsFile::from_memory(bytes, "<bad>"); }, {"checkpoint <bad>: ", phrase});
}

void check_refused(const std::string& header, size_t data_size, const std::string& phrase) {
    check_refused(safetensors_bytes(header, zero_bytes(data_size)), phrase);
}

}  // namespace

BOOST_AUTO_TEST_SUITE(safetensors)

// ---------------------------------------------------------------- reading

BOOST_AUTO_TEST_CASE(round_trip_through_make_safetensors) {
    const Tensor z = Tensor::from({2, 3}, {1.5f, -2.0f, 0.0f, 3.25f, -0.125f, 1e-20f});
    const Tensor a = Tensor::from({4}, {10.0f, 20.0f, 30.0f, 40.0f});
    const Tensor empty = Tensor::from({0, 5}, {});
    const std::string bytes = make_safetensors({{"z", &z}, {"a", &a}, {"empty", &empty}});

    // The data starts 8-byte aligned, as the format recommends.
    uint64_t header_len = 0;
    std::memcpy(&header_len, bytes.data(), 8);
    BOOST_TEST((8 + header_len) % 8 == 0u);

    const SafetensorsFile f = SafetensorsFile::from_memory(bytes, "<round trip>");
    BOOST_TEST(f.what() == "<round trip>");
    BOOST_REQUIRE_EQUAL(f.tensors().size(), 3u);
    const char* names[] = {"z", "a", "empty"};  // header order, not sorted
    const Tensor* tensors[] = {&z, &a, &empty};
    for (int i = 0; i < 3; i++) {
        const TensorEntry& e = f.tensors()[i];
        BOOST_TEST(e.name == names[i]);
        BOOST_TEST((e.dtype == DType::F32));
        BOOST_TEST(e.shape == tensors[i]->shape);
        BOOST_TEST(f.find(names[i]) == &e);
        Tensor back = Tensor::zeros(e.shape);
        f.read_floats(e, back.ptr());
        check_close(names[i], back, *tensors[i], kExact);
    }
    BOOST_TEST(f.find("b") == nullptr);
    BOOST_TEST(f.metadata().empty());
}

BOOST_AUTO_TEST_CASE(open_reads_a_file) {
    const Tensor t = Tensor::from({2, 2}, {1, 2, 3, 4});
    const std::string path = (std::filesystem::temp_directory_path() /
                              ("vitrace_test_open_" + std::to_string(getpid()) + ".safetensors")).string();
    std::ofstream(path, std::ios::binary) << make_safetensors({{"t", &t}});

    const SafetensorsFile f = SafetensorsFile::open(path);
    BOOST_TEST(f.what() == "'" + path + "'");
    check_close("t", read_only_tensor(f).data(), t.ptr(), 4, kExact);
    std::filesystem::remove(path);

    check_error(ErrorKind::Checkpoint, [&] { SafetensorsFile::open(path); }, {path, "cannot open"});
}

BOOST_AUTO_TEST_CASE(metadata) {
    const std::string header = R"({"__metadata__":{"format":"pt","note":"x"},)"
                               R"("t":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}})";
    const SafetensorsFile f = SafetensorsFile::from_memory(safetensors_bytes(header, zero_bytes(4)), "<meta>");
    BOOST_TEST(f.metadata().size() == 2u);
    BOOST_TEST(f.metadata().at("format") == "pt");
    BOOST_TEST(f.tensors().size() == 1u);  // __metadata__ is not a tensor
}

// ---------------------------------------------------------------- dtypes

BOOST_AUTO_TEST_CASE(half_to_float_by_hand) {
    BOOST_TEST(half_to_float(0x3C00) == 1.0f);
    BOOST_TEST(half_to_float(0xC000) == -2.0f);
    BOOST_TEST(half_to_float(0x7BFF) == 65504.0f);                     // largest finite
    BOOST_TEST(half_to_float(0x0400) == std::ldexp(1.0f, -14));        // smallest normal
    BOOST_TEST(half_to_float(0x0001) == std::ldexp(1.0f, -24));        // smallest subnormal
    BOOST_TEST(half_to_float(0x03FF) == std::ldexp(1023.0f, -24));     // largest subnormal
    BOOST_TEST(half_to_float(0x3555) == 0.333251953125f);              // 1/3 rounded to 10 bits
    BOOST_TEST(half_to_float(0x0000) == 0.0f);
    BOOST_TEST(std::signbit(half_to_float(0x8000)));                   // -0
    BOOST_TEST(half_to_float(0x7C00) == std::numeric_limits<float>::infinity());
    BOOST_TEST(half_to_float(0xFC00) == -std::numeric_limits<float>::infinity());
    BOOST_TEST(std::isnan(half_to_float(0x7E00)));
    BOOST_TEST(std::isnan(half_to_float(0x7C01)));  // a NaN with the smallest payload, not inf
}

BOOST_AUTO_TEST_CASE(bfloat16_to_float_by_hand) {
    BOOST_TEST(bfloat16_to_float(0x3F80) == 1.0f);
    BOOST_TEST(bfloat16_to_float(0xC000) == -2.0f);
    BOOST_TEST(bfloat16_to_float(0x4049) == 3.140625f);              // pi with 7 mantissa bits
    BOOST_TEST(bfloat16_to_float(0x0001) == std::ldexp(1.0f, -133));  // smallest subnormal
    BOOST_TEST(bfloat16_to_float(0x7F80) == std::numeric_limits<float>::infinity());
    BOOST_TEST(std::isnan(bfloat16_to_float(0x7FC0)));
}

BOOST_AUTO_TEST_CASE(read_floats_converts_f16_and_bf16) {
    const std::vector<uint16_t> f16 = {0x3C00, 0xC000, 0x7BFF, 0x0001, 0x7C00, 0x7E00};
    const std::string f16_header = R"({"h":{"dtype":"F16","shape":[2,3],"data_offsets":[0,12]}})";
    const std::vector<float> h =
        read_only_tensor(SafetensorsFile::from_memory(safetensors_bytes(f16_header, raw(f16)), "<f16>"));
    const std::vector<float> h_want = {1.0f, -2.0f, 65504.0f, std::ldexp(1.0f, -24)};
    check_close("F16 finite values", h.data(), h_want.data(), 4, kExact);
    BOOST_TEST(std::isinf(h[4]));
    BOOST_TEST(std::isnan(h[5]));

    const std::vector<uint16_t> bf16 = {0x3F80, 0xC000, 0x4049};
    const std::string bf16_header = R"({"b":{"dtype":"BF16","shape":[3],"data_offsets":[0,6]}})";
    const std::vector<float> b =
        read_only_tensor(SafetensorsFile::from_memory(safetensors_bytes(bf16_header, raw(bf16)), "<bf16>"));
    const std::vector<float> b_want = {1.0f, -2.0f, 3.140625f};
    check_close("BF16", b.data(), b_want.data(), 3, kExact);
}

BOOST_AUTO_TEST_CASE(read_floats_converts_f64_and_i64) {
    const std::vector<double> f64 = {0.1, -3.5, std::ldexp(1.0, -30)};
    const std::string f64_header = R"({"d":{"dtype":"F64","shape":[3],"data_offsets":[0,24]}})";
    const std::vector<float> d =
        read_only_tensor(SafetensorsFile::from_memory(safetensors_bytes(f64_header, raw(f64)), "<f64>"));
    const std::vector<float> d_want = {0.1f, -3.5f, std::ldexp(1.0f, -30)};  // 0.1 rounds to the nearest float
    check_close("F64", d.data(), d_want.data(), 3, kExact);

    const std::vector<int64_t> i64 = {-5, 0, int64_t(1) << 40};
    const std::string i64_header = R"({"i":{"dtype":"I64","shape":[3],"data_offsets":[0,24]}})";
    const std::vector<float> i =
        read_only_tensor(SafetensorsFile::from_memory(safetensors_bytes(i64_header, raw(i64)), "<i64>"));
    const std::vector<float> i_want = {-5.0f, 0.0f, 1099511627776.0f};
    check_close("I64", i.data(), i_want.data(), 3, kExact);
    BOOST_TEST(!dtype_is_float(DType::I64));
    BOOST_TEST(dtype_size(DType::BF16) == 2);
    BOOST_TEST(std::string(dtype_name(DType::BF16)) == "BF16");
}

// ---------------------------------------------------------------- malformed files

BOOST_AUTO_TEST_CASE(length_prefix) {
    check_refused("", "too short for a safetensors file: 0 bytes");
    check_refused("1234567", "too short for a safetensors file: 7 bytes");
    check_refused(le64(100) + "{}", "header length 100 bytes runs past the end of the file (10 bytes)");
    check_refused(le64(kMaxSafetensorsHeader + 1) + "{}", "above the 100 MB limit");
    check_refused(le64(~0ull) + "{}", "above the 100 MB limit");
}

BOOST_AUTO_TEST_CASE(header_json) {
    check_refused("{not json", 0, "the header is not valid JSON");
    check_refused("", 0, "the header is not valid JSON");
    check_refused("[1, 2]", 0, "the header is JSON but not an object (it is array)");
    check_refused(R"({"__metadata__":"pt"})", 0, "__metadata__ is not an object");
    check_refused(R"({"__metadata__":{"n":1}})", 0, "__metadata__ value of 'n' is not a string");
    check_refused(R"({"a":[1]})", 0, "tensor 'a' is not a JSON object");
    check_refused(R"({"a":{"shape":[1],"data_offsets":[0,4]}})", 4, "tensor 'a' has no dtype string");
    check_refused(R"({"a":{"dtype":"F32","data_offsets":[0,4]}})", 4, "tensor 'a' has no shape array");
    check_refused(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0]}})", 4, "tensor 'a' has no data_offsets pair");
}

BOOST_AUTO_TEST_CASE(duplicate_names) {
    // A JSON parser keeps the last of two equal keys; the file must be refused instead.
    check_refused(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},)"
                  R"("a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})",
                  8, "tensor name 'a' appears twice");
}

BOOST_AUTO_TEST_CASE(dtypes_and_shapes) {
    check_refused(R"({"a":{"dtype":"Q4","shape":[1],"data_offsets":[0,1]}})", 1, "tensor 'a' has unknown dtype 'Q4'");
    check_refused(R"({"a":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}})", 4,
                  "tensor 'a' has a shape entry that is not a non-negative integer");
    check_refused(R"({"a":{"dtype":"F32","shape":[1.5],"data_offsets":[0,4]}})", 4, "not a non-negative integer");
    check_refused(R"({"a":{"dtype":"F32","shape":["2"],"data_offsets":[0,8]}})", 8, "not a non-negative integer");
    check_refused(R"({"a":{"dtype":"U8","shape":[4294967296,4294967296],"data_offsets":[0,1]}})", 1,
                  "tensor 'a' has a shape whose element count overflows");
    check_refused(R"({"a":{"dtype":"U8","shape":[9223372036854775808],"data_offsets":[0,1]}})", 1,
                  "element count overflows");
    // the count fits, the byte size does not
    check_refused(R"({"a":{"dtype":"F32","shape":[4611686018427387904],"data_offsets":[0,4]}})", 4,
                  "has 4 bytes, but shape [4611686018427387904] of F32 needs more than 2^64");
    check_refused(R"({"a":{"dtype":"F32","shape":[2,3],"data_offsets":[0,20]}})", 20,
                  "tensor 'a' has 20 bytes, but shape [2, 3] of F32 needs 24");
}

BOOST_AUTO_TEST_CASE(offsets_must_tile_the_data) {
    const std::string a4 = R"("a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]})";
    check_refused(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}})", 2,
                  "tensor 'a' has data_offsets [0, 4] outside the data buffer of 2 bytes");
    check_refused(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[4,0]}})", 4, "outside the data buffer");
    check_refused(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[-4,0]}})", 4,
                  "tensor 'a' has data_offsets that are not non-negative integers");
    check_refused("{" + a4 + R"(,"b":{"dtype":"F32","shape":[1],"data_offsets":[2,6]}})", 6,
                  "tensor 'b' overlaps the tensor before it (bytes 2 to 4)");
    check_refused("{" + a4 + R"(,"b":{"dtype":"F32","shape":[1],"data_offsets":[8,12]}})", 12,
                  "bytes 4 to 8 of the data buffer belong to no tensor");
    check_refused("{" + a4 + "}", 8, "the data buffer has 8 bytes but the tensors cover 4");
    check_refused("{}", 3, "the data buffer has 3 bytes but the tensors cover 0");

    // Zero-byte tensors take no room, wherever they sit; offsets need not follow header order.
    const std::string ok = "{" + a4 + R"(,"e":{"dtype":"F32","shape":[0],"data_offsets":[4,4]},)"
                                      R"("b":{"dtype":"F16","shape":[2],"data_offsets":[4,8]}})";
    BOOST_CHECK_NO_THROW(SafetensorsFile::from_memory(safetensors_bytes(ok, zero_bytes(8)), "<ok>"));
    const std::string swapped = R"({"b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]},)" + a4 + "}";
    BOOST_CHECK_NO_THROW(SafetensorsFile::from_memory(safetensors_bytes(swapped, zero_bytes(8)), "<swapped>"));
}

BOOST_AUTO_TEST_SUITE_END()

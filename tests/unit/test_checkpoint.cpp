// Loading checkpoints into a small ViT (S 32, P 16, C 8, one block, 2 heads,
// 3 classes: N = 5 tokens). A whole file loads exactly; every misfit is named
// in the error; F16, BF16 and F64 files load; and a refused file leaves the
// model's own weights as they were.
#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <limits>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "../test_util.h"
#include "core/swin.h"
#include "core/vit.h"
#include "io/checkpoint.h"
#include "io/safetensors.h"

using namespace vitrace;
using namespace vitrace::test;

namespace {

Model tiny_vit(uint64_t seed) {
    ModelConfig cfg = find_model("vit_tiny_patch16_224");
    ConfigOverrides o;
    o["--image-size"] = FlagValue{32};
    o["--patch"] = FlagValue{16};
    o["--width"] = FlagValue{8};
    o["--depth"] = FlagValue{1};
    o["--heads"] = FlagValue{2};
    o["--classes"] = FlagValue{3};
    apply_overrides(cfg, o);
    Model m = make_model(cfg);
    init_random(m, seed);
    return m;
}

using Params = std::vector<std::pair<std::string, const Tensor*>>;  // what make_safetensors writes

// Every parameter under its timm name, in state-dict order.
Params params_of(Model& m) {
    Params out;
    visit_params(m, [&](const std::string& name, Tensor& t, ParamKind, int64_t) { out.push_back({name, &t}); });
    return out;
}

// A directory of its own for each test, removed afterwards.
struct TempDir {
    std::filesystem::path path;
    TempDir() {
        char tmpl[] = "/tmp/vitrace-test-checkpoint-XXXXXX";
        BOOST_REQUIRE(mkdtemp(tmpl));
        path = tmpl;
    }
    ~TempDir() { std::filesystem::remove_all(path); }

    std::string write(const std::string& name, const std::string& bytes) const {
        const std::string p = (path / name).string();
        std::ofstream(p, std::ios::binary) << bytes;
        return p;
    }
};

// Checks that two models of one configuration hold the same weights.
void check_same_weights(const std::string& what, Model& actual, Model& expected) {
    const auto a = params_of(actual), e = params_of(expected);
    BOOST_REQUIRE_EQUAL(a.size(), e.size());
    for (size_t i = 0; i < a.size(); i++) check_close(what + ": " + a[i].first, *a[i].second, *e[i].second, kExact);
}

// A whole checkpoint in a 16-bit or 64-bit dtype: `encode` turns each float
// into the dtype's bytes. make_safetensors writes only F32.
std::string encoded_checkpoint(Model& m, const std::string& dtype, int dtype_size,
                               const std::function<std::string(float)>& encode) {
    nlohmann::ordered_json header = nlohmann::ordered_json::object();
    std::string data;
    for (const auto& [name, t] : params_of(m)) {
        const uint64_t begin = data.size();
        for (float v : t->data) data += encode(v);
        header[name] = {{"dtype", dtype}, {"shape", t->shape}, {"data_offsets", {begin, data.size()}}};
        BOOST_REQUIRE_EQUAL(data.size() - begin, (size_t)t->numel() * dtype_size);
    }
    const std::string h = header.dump();
    std::string len(8, '\0');
    for (int i = 0; i < 8; i++) len[i] = static_cast<char>((h.size() >> (8 * i)) & 0xFF);
    return len + h + data;
}

template <class T>
std::string bytes_of(T v) {
    return std::string(reinterpret_cast<const char*>(&v), sizeof v);
}

// The float's value in IEEE half precision; the test's values are all exact in it.
uint16_t exact_half(float v) {
    uint32_t bits;
    std::memcpy(&bits, &v, 4);
    const uint16_t sign = (bits >> 16) & 0x8000;
    if (v == 0.0f) return sign;
    const int exp = (int)((bits >> 23) & 0xFF) - 127 + 15;
    BOOST_REQUIRE_MESSAGE(exp > 0 && exp < 31 && (bits & 0x1FFF) == 0, v << " is not a normal half");
    return static_cast<uint16_t>(sign | exp << 10 | (bits >> 13 & 0x3FF));
}

uint16_t exact_bfloat16(float v) {
    uint32_t bits;
    std::memcpy(&bits, &v, 4);
    BOOST_REQUIRE_MESSAGE((bits & 0xFFFF) == 0, v << " is not a bfloat16");
    return static_cast<uint16_t>(bits >> 16);
}

// Gives every weight a value with few mantissa bits, exact in F16 and BF16:
// k/64 for k in -32..32.
void set_short_values(Model& m) {
    int k = 0;
    visit_params(m, [&](const std::string&, Tensor& t, ParamKind, int64_t) {
        for (float& v : t.data) v = static_cast<float>((k++ % 65) - 32) / 64.0f;
    });
}

// Calls load_checkpoint, which must throw Error(Checkpoint) with every phrase
// in its message, and must leave the model as it was.
void check_refused(Model& m, const std::string& path, const std::vector<std::string>& phrases,
                   const LoadOptions& opts = {}) {
    Model before = m;
    std::vector<std::string> all = phrases;
    all.push_back(path);  // the message names the file
    check_error(ErrorKind::Checkpoint, [&] { load_checkpoint(m, path, opts); }, all);
    check_same_weights("after a refused load", m, before);
}

// Writes params as a checkpoint; loading it into the tiny ViT must be refused.
void check_params_refused(const Params& params, const std::vector<std::string>& phrases) {
    TempDir dir;
    Model m = tiny_vit(2);
    check_refused(m, dir.write("refused.safetensors", make_safetensors(params)), phrases);
}

}  // namespace

BOOST_AUTO_TEST_SUITE(checkpoint)

BOOST_AUTO_TEST_CASE(whole_file_loads_exactly) {
    TempDir dir;
    Model source = tiny_vit(1);
    const std::string path = dir.write("vit.safetensors", make_safetensors(params_of(source)));

    Model m = tiny_vit(2);
    const LoadReport report = load_checkpoint(m, path);
    check_same_weights("loaded", m, source);
    BOOST_TEST(report.layout == "timm");
    BOOST_TEST(report.tensors == (int64_t)params_of(source).size());
    BOOST_TEST(report.values == param_count(source.config));
    BOOST_TEST(m.as<VitWeights>().pos_embed.shape == (Shape{1, 5, 8}));

    // Into a model with shape-only weights, as the command line loads them.
    Model empty = make_model(source.config);
    load_checkpoint(empty, path);
    check_same_weights("loaded into shape-only weights", empty, source);
}

BOOST_AUTO_TEST_CASE(tensor_order_does_not_matter) {
    TempDir dir;
    Model source = tiny_vit(1);
    Params params = params_of(source);
    std::reverse(params.begin(), params.end());
    Model m = tiny_vit(2);
    load_checkpoint(m, dir.write("reversed.safetensors", make_safetensors(params)));
    check_same_weights("loaded from reversed order", m, source);
}

BOOST_AUTO_TEST_CASE(missing_tensors_are_named) {
    Model source = tiny_vit(1);
    Params params = params_of(source);
    std::erase_if(params,
                  [](const auto& p) { return p.first == "head.bias" || p.first == "blocks.0.attn.qkv.weight"; });
    check_params_refused(params,
                         {"does not fit vit_tiny_patch16_224", "2 missing (blocks.0.attn.qkv.weight, head.bias)"});
}

BOOST_AUTO_TEST_CASE(unexpected_tensors_are_named) {
    Model source = tiny_vit(1);
    Params params = params_of(source);
    const Tensor extra = Tensor::from({2}, {1, 2});
    params.push_back({"head_dist.weight", &extra});
    params.push_back({"blocks.1.norm1.weight", &extra});  // a block the one-block model does not have
    check_params_refused(params, {"2 unexpected (head_dist.weight, blocks.1.norm1.weight)"});
}

BOOST_AUTO_TEST_CASE(wrong_shape_gives_expected_and_actual) {
    Model source = tiny_vit(1);
    Params params = params_of(source);
    const Tensor pos_embed_64 = Tensor::zeros({1, 17, 8});  // the grid of a 64x64 input
    const Tensor head_weight_t = Tensor::zeros({8, 3});     // transposed
    for (auto& [name, t] : params) {
        if (name == "pos_embed") t = &pos_embed_64;
        if (name == "head.weight") t = &head_weight_t;
    }
    check_params_refused(params, {"2 with the wrong shape (pos_embed: expected [1, 5, 8], got [1, 17, 8], "
                                  "head.weight: expected [3, 8], got [8, 3])"});
}

BOOST_AUTO_TEST_CASE(all_problems_are_reported_together) {
    Model source = tiny_vit(1);
    Params params = params_of(source);
    const Tensor wrong = Tensor::zeros({3});
    std::erase_if(params, [](const auto& p) { return p.first == "norm.bias"; });
    for (auto& [name, t] : params)
        if (name == "cls_token") t = &wrong;
    params.push_back({"fc_norm.bias", &wrong});
    check_params_refused(params, {"1 missing (norm.bias); 1 unexpected (fc_norm.bias); "
                                  "1 with the wrong shape (cls_token: expected [1, 1, 8], got [3])"});
}

BOOST_AUTO_TEST_CASE(integer_dtype_is_refused) {
    TempDir dir;
    Model source = tiny_vit(1);
    // The whole file in I32: each tensor's shape fits, its dtype does not.
    const std::string bytes = encoded_checkpoint(source, "I32", 4, [](float v) { return bytes_of((int32_t)v); });
    Model m = tiny_vit(2);
    check_refused(m, dir.write("i32.safetensors", bytes),
                  {"with a non-float dtype (cls_token: expected F32, F16, BF16 or F64, got I32"});
}

BOOST_AUTO_TEST_CASE(f16_bf16_and_f64_files_load) {
    TempDir dir;
    Model source = tiny_vit(1);
    set_short_values(source);
    const std::string f16 = encoded_checkpoint(source, "F16", 2, [](float v) { return bytes_of(exact_half(v)); });
    const std::string bf16 = encoded_checkpoint(source, "BF16", 2, [](float v) { return bytes_of(exact_bfloat16(v)); });
    const std::string f64 = encoded_checkpoint(source, "F64", 8, [](float v) { return bytes_of((double)v); });
    for (const auto& [dtype, bytes] : {std::pair{"F16", f16}, std::pair{"BF16", bf16}, std::pair{"F64", f64}}) {
        Model m = tiny_vit(2);
        load_checkpoint(m, dir.write(std::string(dtype) + ".safetensors", bytes));
        check_same_weights(std::string("loaded from ") + dtype, m, source);
    }
}

BOOST_AUTO_TEST_CASE(swin_file_for_a_vit_model) {
    const Tensor t = Tensor::from({2}, {1, 2});
    check_params_refused({{"patch_embed.proj.weight", &t},
                          {"layers.0.blocks.0.attn.qkv.weight", &t},
                          {"layers.0.downsample.reduction.weight", &t}},
                         {"holds Swin weights (tensors named layers.*)", "is a ViT model: choose a swin_* model"});
}

BOOST_AUTO_TEST_CASE(nonfinite_values_are_refused_unless_allowed) {
    TempDir dir;
    Model source = tiny_vit(1);
    source.as<VitWeights>().pos_embed[3] = std::numeric_limits<float>::quiet_NaN();
    source.as<VitWeights>().head.bias[0] = std::numeric_limits<float>::infinity();
    source.as<VitWeights>().head.bias[2] = -std::numeric_limits<float>::infinity();
    const std::string path = dir.write("nan.safetensors", make_safetensors(params_of(source)));

    Model m = tiny_vit(2);
    check_refused(m, path, {"NaN or infinite values in 2 tensors (pos_embed (1), head.bias (2))", "--allow-nonfinite"});

    LoadOptions allow;
    allow.allow_nonfinite = true;
    load_checkpoint(m, path, allow);
    BOOST_TEST(std::isnan(m.as<VitWeights>().pos_embed[3]));
    BOOST_TEST(std::isinf(m.as<VitWeights>().head.bias[2]));
    BOOST_TEST(m.as<VitWeights>().pos_embed[4] == source.as<VitWeights>().pos_embed[4]);
}

BOOST_AUTO_TEST_CASE(unreadable_files_are_checkpoint_errors) {
    TempDir dir;
    Model m = tiny_vit(2);
    check_refused(m, (dir.path / "absent.safetensors").string(), {"cannot open"});
    check_refused(m, dir.write("short.safetensors", "abc"), {"too short"});
}

BOOST_AUTO_TEST_SUITE_END()

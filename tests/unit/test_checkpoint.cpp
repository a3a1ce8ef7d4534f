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
#include "core/window.h"
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

BOOST_AUTO_TEST_CASE(swin_files_load_in_the_timm_and_the_microsoft_layout) {
    ModelConfig cfg = find_model("swin_tiny_patch4_window7_224");
    apply_overrides(cfg, {{"--image-size", FlagValue{16}}, {"--patch", FlagValue{2}}, {"--width", FlagValue{4}},
                          {"--depth", FlagValue{2, 2}}, {"--heads", FlagValue{1, 2}}, {"--window", FlagValue{4}},
                          {"--classes", FlagValue{3}}});
    Model source = make_model(cfg);
    init_random(source, 1);
    // The original release closes stage s-1 with the patch merging that timm
    // (>= 0.9) opens stage s with, and names the classifier head, not head.fc.
    std::vector<std::string> names;
    Params microsoft;
    for (const auto& [name, t] : params_of(source)) {
        std::string n = name;
        if (n.rfind("layers.1.downsample.", 0) == 0) n = "layers.0" + n.substr(8);
        if (n.rfind("head.fc.", 0) == 0) n = "head." + n.substr(8);
        names.push_back(n);
    }
    const Params timm = params_of(source);
    for (size_t i = 0; i < timm.size(); i++) microsoft.push_back({names[i], timm[i].second});
    // The stored buffer of a block, as timm saves it: stage 0's 8x8 grid, window 4.
    Tensor index;
    relative_position_index(index, 4);
    microsoft.push_back({"layers.0.blocks.1.attn.relative_position_index", &index});

    TempDir dir;
    for (const auto& [layout, params] : {std::pair{"timm", timm}, std::pair{"microsoft", microsoft}}) {
        Model m = make_model(cfg);
        const LoadReport r = load_checkpoint(m, dir.write(std::string(layout) + ".safetensors", make_safetensors(params)));
        BOOST_TEST(r.layout == layout);
        check_same_weights(std::string("loaded from the ") + layout + " layout", m, source);
    }

    // A buffer that is not the one the model computes is refused, and named.
    Tensor wrong = index;
    wrong[5] += 1;
    microsoft.back().second = &wrong;
    Model m = make_model(cfg);
    check_refused(m, dir.write("bad_index.safetensors", make_safetensors(microsoft)),
                  {"read as the microsoft layout", "1 buffers that do not match the model",
                   "layers.0.blocks.1.attn.relative_position_index: differs"});
}

BOOST_AUTO_TEST_SUITE_END()

// Layouts as tables (io/layout.h): a test layout in the manner of a library
// that keeps query, key and value apart, and stores the classifier as the
// second half of a tensor of two heads.
BOOST_AUTO_TEST_SUITE(layout)

namespace {

Layout split_layout() {
    return {"split",
            "vit",
            "tensors named enc.*",
            {"enc.{i}.{*}"},
            {
                {"blocks.{i}.attn.qkv.{*}", concat({"enc.{i}.q.{*}", "enc.{i}.k.{*}", "enc.{i}.v.{*}"})},
                {"head.{*}", rows("two_heads.{*}", 1, 2)},
            },
            {},
            {"pooler.{*}"}};
}

// Rows [begin, end) of axis 0.
Tensor rows_of(const Tensor& t, int64_t begin, int64_t end) {
    Shape shape = t.shape;
    shape[0] = end - begin;
    const int64_t row = t.numel() / t.dim(0);
    return Tensor::from(shape, std::vector<float>(t.data.begin() + begin * row, t.data.begin() + end * row));
}

// The tiny ViT's weights as split_layout() names them; `drop` leaves a tensor out.
struct SplitFile {
    std::vector<Tensor> store;  // q, k, v, the two heads, the pooler
    Params params;
    SplitFile(Model& source, const std::string& drop = "") {
        store.reserve(16);
        for (const auto& [name, t] : params_of(source)) {
            if (name.rfind("blocks.0.attn.qkv.", 0) == 0) {
                const std::string leaf = name.substr(18);  // weight or bias
                const int64_t C = t->dim(0) / 3;
                const char* parts[] = {"q", "k", "v"};
                for (int p = 0; p < 3; p++) {
                    store.push_back(rows_of(*t, p * C, (p + 1) * C));
                    add(std::string("enc.0.") + parts[p] + "." + leaf, drop);
                }
            } else if (name.rfind("head.", 0) == 0) {
                // [other head; this head]: the model reads the second half.
                Tensor both = Tensor::zeros({2 * t->dim(0)});
                if (t->rank() == 2) both = Tensor::zeros({2 * t->dim(0), t->dim(1)});
                std::fill(both.data.begin(), both.data.begin() + t->numel(), 7.0f);
                std::copy(t->data.begin(), t->data.end(), both.data.begin() + t->numel());
                store.push_back(both);
                add("two_heads." + name.substr(5), drop);
            } else if (name != drop) {
                params.push_back({name, t});
            }
        }
        store.push_back(Tensor::zeros({4}));
        add("pooler.dense.bias", drop);
    }
    void add(const std::string& name, const std::string& drop) {
        if (name != drop) params.push_back({name, &store.back()});
    }
};

}  // namespace

BOOST_AUTO_TEST_CASE(names_match_and_fill) {
    Captures c;
    BOOST_TEST(match_name("layers.{s}.blocks.{b}.{*}", "layers.2.blocks.13.attn.qkv.weight", c));
    BOOST_TEST(c["s"] == "2");
    BOOST_TEST(c["b"] == "13");
    BOOST_TEST(c["*"] == "attn.qkv.weight");
    BOOST_TEST(fill_name("layers.{s-1}.downsample.{*}", {{"s", "2"}, {"*", "norm.bias"}}) ==
               "layers.1.downsample.norm.bias");
    BOOST_TEST(!match_name("blocks.{i}.{*}", "layers.0.blocks.1.norm1.weight", c));
    BOOST_TEST(!match_name("blocks.{i}.norm1", "blocks.x.norm1", c));
    BOOST_TEST(!match_name("cls_token", "cls_token_2", c));
}

BOOST_AUTO_TEST_CASE(concatenated_and_split_sources_fill_the_model) {
    TempDir dir;
    Model source = tiny_vit(1);
    SplitFile file(source);
    const std::vector<Layout> candidates = {split_layout()};
    Model m = tiny_vit(2);
    const LoadReport r = load_checkpoint(m, SafetensorsFile::open(dir.write("split.safetensors", make_safetensors(file.params))),
                                         {}, &candidates);
    BOOST_TEST(r.layout == "split");
    check_same_weights("loaded through the split layout", m, source);
}

BOOST_AUTO_TEST_CASE(the_closest_layout_names_what_is_missing_and_unexpected) {
    TempDir dir;
    Model source = tiny_vit(1);
    SplitFile file(source, "enc.0.k.bias");
    const Tensor extra = Tensor::zeros({2});
    file.params.push_back({"enc.0.x.weight", &extra});
    std::vector<Layout> candidates = layouts();
    candidates.push_back(split_layout());
    Model m = tiny_vit(2);
    const std::string path = dir.write("split.safetensors", make_safetensors(file.params));
    check_error(ErrorKind::Checkpoint,
                [&] { load_checkpoint(m, SafetensorsFile::open(path), {}, &candidates); },
                {"read as the split layout", "1 missing (enc.0.k.bias)", "1 unexpected (enc.0.x.weight)"});
}

BOOST_AUTO_TEST_CASE(reshaped_shapes_drop_and_restore_leading_ones) {
    BOOST_TEST(reshaped_shape({197, 768}, 3) == Shape({1, 197, 768}));       // vit-pytorch's pos_embedding
    BOOST_TEST(reshaped_shape({1, 1, 196, 768}, 3) == Shape({1, 196, 768}));  // ml-cvnets' position table
    BOOST_TEST(reshaped_shape({0, 768}, 3) == Shape({1, 0, 768}));           // an empty cls_token
    BOOST_TEST(reshaped_shape({2, 197, 768}, 3) == Shape({2, 197, 768}));    // more than one: kept, and refused
}

BOOST_AUTO_TEST_CASE(reshaped_sources_fill_the_model_and_empty_tensors_are_ignored) {
    // vit-pytorch keeps cls_token [1, C] and pos_embedding [N, C]; the model's are [1, 1, C] and [1, N, C].
    TempDir dir;
    Model source = tiny_vit(1);
    const Layout flat = {"flat", "vit", "tensors named flat_*", {"flat_pos"},
                         {{"cls_token", reshaped("flat_cls", 3)}, {"pos_embed", reshaped("flat_pos", 3)}}, {}, {}};
    std::vector<Tensor> store;
    store.reserve(3);
    Params params;
    for (const auto& [name, t] : params_of(source)) {
        if (name == "cls_token" || name == "pos_embed") {
            store.push_back(Tensor::from({t->dim(1), t->dim(2)}, std::vector<float>(t->data.begin(), t->data.end())));
            params.push_back({name == "cls_token" ? "flat_cls" : "flat_pos", &store.back()});
        } else {
            params.push_back({name, t});
        }
    }
    store.push_back(Tensor::zeros({0, 8}));  // as a model without a cls token saves it
    params.push_back({"empty_token", &store.back()});
    const std::vector<Layout> candidates = {flat};
    Model m = tiny_vit(2);
    const std::string path = dir.write("flat.safetensors", make_safetensors(params));
    const LoadReport r = load_checkpoint(m, SafetensorsFile::open(path), {}, &candidates);
    BOOST_TEST(r.layout == "flat");
    check_same_weights("loaded through reshaped sources", m, source);
    BOOST_TEST(layout_use(m, SafetensorsFile::open(path), flat).ignored == std::vector<std::string>{"empty_token"});

    // A reshaped source still needs the same values: [2, 5, 8] is not pos_embed [1, 5, 8].
    store[1] = Tensor::zeros({2, 5, 8});
    check_error(ErrorKind::Checkpoint,
                [&] { load_checkpoint(m, SafetensorsFile::open(dir.write("bad.safetensors", make_safetensors(params))), {}, &candidates); },
                {"flat_pos: expected [1, 5, 8], got [2, 5, 8]"});
}

BOOST_AUTO_TEST_CASE(concatenated_shapes_must_join) {
    TempDir dir;
    Model source = tiny_vit(1);
    SplitFile file(source);
    const Tensor narrow = Tensor::zeros({8, 7});  // k of another width
    for (auto& [name, t] : file.params)
        if (name == "enc.0.k.weight") t = &narrow;
    const std::vector<Layout> candidates = {split_layout()};
    Model m = tiny_vit(2);
    const std::string path = dir.write("narrow.safetensors", make_safetensors(file.params));
    check_error(ErrorKind::Checkpoint, [&] { load_checkpoint(m, SafetensorsFile::open(path), {}, &candidates); },
                {"with the wrong shape (enc.0.k.weight: [8, 7] does not join [8, 8] along axis 0)"});
}

BOOST_AUTO_TEST_SUITE_END()

// Every recorded step against the tensors PyTorch computed for it.
//
// The fixtures in this directory come from tests/reference/make_goldens.py:
// a config (NAME.json), an input image, timm-named random weights and, for each
// of vitrace's step names, the tensor PyTorch computed. This test runs vitrace
// on the same image and weights and holds every step to its golden tensor.
#define BOOST_TEST_MODULE vitrace golden tests
#include <boost/test/unit_test.hpp>

#include <filesystem>
#include <fstream>
#include <set>

#include <nlohmann/json.hpp>

#include "../test_util.h"
#include "core/model.h"
#include "io/checkpoint.h"
#include "io/image.h"
#include "io/safetensors.h"

using namespace vitrace;
namespace fs = std::filesystem;

namespace {

const fs::path kDir = fs::path(VITRACE_TEST_DATA) / "golden";

std::vector<std::string> fixtures() {
    std::vector<std::string> names;
    for (const auto& e : fs::directory_iterator(kDir))
        if (e.path().extension() == ".json") names.push_back(e.path().stem().string());
    std::sort(names.begin(), names.end());
    return names;
}

ModelConfig fixture_config(const nlohmann::json& j) {
    ModelConfig cfg = find_model(j["model"].get<std::string>());
    ConfigOverrides o;
    const auto& ov = j["overrides"];
    auto get = [&](const char* key, std::optional<int>& dst) {
        if (ov.contains(key)) dst = ov[key].get<int>();
    };
    get("image_size", o.image_size);
    get("patch", o.patch);
    get("width", o.width);
    get("embed_dim", o.width);
    get("window", o.window);
    auto list = [&](const char* key, std::optional<std::vector<int>>& dst) {
        if (!ov.contains(key)) return;
        dst = ov[key].is_array() ? ov[key].get<std::vector<int>>() : std::vector<int>{ov[key].get<int>()};
    };
    list("depth", o.depths);
    list("depths", o.depths);
    list("heads", o.heads);
    get("classes", o.classes);
    if (ov.contains("mlp_ratio")) o.mlp_ratio = ov["mlp_ratio"].get<double>();
    if (ov.contains("pool")) o.pool = ov["pool"] == "mean" ? Pool::Mean : Pool::Token;
    apply_overrides(cfg, o);
    return cfg;
}

void check_fixture(const std::string& name, const nlohmann::json& j, const std::string& weights) {
    BOOST_TEST_MESSAGE("fixture " << name << " with " << weights);
    const ModelConfig cfg = fixture_config(j);

    Model m = make_model(cfg);
    load_checkpoint(m, (kDir / weights).string());
    Normalization norm;
    for (int c = 0; c < 3; c++) {
        norm.mean[c] = j["mean"][c].get<float>();
        norm.std[c] = j["std"][c].get<float>();
    }
    TraceOptions opts;
    opts.values = ValuesMode::Full;
    Trace trace(opts);
    const DecodedImage img = read_image((kDir / (name + ".png")).string());
    forward(m, preprocess(img, cfg.image_size(), norm, trace), trace);

    const SafetensorsFile golden = SafetensorsFile::open((kDir / (name + ".steps.safetensors")).string());
    // The same steps, in the same order: nothing vitrace records goes unchecked.
    std::vector<std::string> expected_names;
    for (const auto& s : j["steps"]) expected_names.push_back(s.get<std::string>());
    std::vector<std::string> names;
    for (const Step& s : trace.steps()) names.push_back(s.name);
    BOOST_CHECK_EQUAL_COLLECTIONS(names.begin(), names.end(), expected_names.begin(), expected_names.end());

    for (const Step& s : trace.steps()) {
        const TensorEntry* g = golden.find(s.name);
        BOOST_REQUIRE_MESSAGE(g, name << ": no golden tensor for step " << s.name);
        BOOST_REQUIRE_MESSAGE(g->shape == s.shape, name << ": step " << s.name << " has shape " << shape_str(s.shape)
                                                        << ", PyTorch's is " << shape_str(g->shape));
        std::vector<float> want(numel(g->shape));
        golden.read_floats(*g, want.data());
        // Values that are large (raw pixels, 0..255) get the same relative slack.
        float scale = 1.0f;
        for (float v : want) scale = std::max(scale, std::fabs(v));
        test::check_close(weights + " step " + s.name, s.values.data(), want.data(), want.size(), test::kGolden * scale);
    }
}

}  // namespace

BOOST_AUTO_TEST_CASE(every_fixture_is_present) {
    const auto names = fixtures();
    for (const char* want : {"vit_token", "vit_mean", "swin_shift", "swin_window3"})
        BOOST_CHECK_MESSAGE(std::find(names.begin(), names.end(), want) != names.end(), "missing fixture " << want);
}

// Every fixture with each of its checkpoints (Swin: the timm and the Microsoft layout).
BOOST_AUTO_TEST_CASE(every_step_matches_pytorch) {
    for (const std::string& name : fixtures()) {
        nlohmann::json j;
        std::ifstream(kDir / (name + ".json")) >> j;
        for (const auto& w : j["weights"]) check_fixture(name, j, w.get<std::string>());
    }
}

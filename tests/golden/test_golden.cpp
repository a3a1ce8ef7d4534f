// Every recorded step against the tensors our PyTorch port of timm computed for it.
//
// The fixtures in this directory come from tests/reference/make_goldens.py:
// a config (NAME.json), an input image, timm-named random weights and, for each
// of vitrace's step names, the tensor that the PyTorch port of timm in
// tests/reference/models.py computed. This test runs vitrace on the same image
// and weights and holds every step to its golden tensor.
#define BOOST_TEST_MODULE vitrace golden tests
#include <boost/test/unit_test.hpp>

#include <filesystem>
#include <fstream>
#include <set>

#include <nlohmann/json.hpp>

#include "../test_util.h"
#include "core/model.h"
#include "io/checkpoint.h"
#include "pipeline/preprocess.h"
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

// The fixture's overrides are named as model.config names them: each is set
// through the family's field of that name.
ModelConfig fixture_config(const nlohmann::json& j) {
    ModelConfig cfg = find_model(j["model"].get<std::string>());
    ConfigOverrides o;
    for (const auto& [key, value] : j["overrides"].items()) {
        const ConfigField* field = cfg.family->field_by_json(key);
        BOOST_REQUIRE_MESSAGE(field && !field->flag.empty(), "fixture override " << key << " is no config field");
        FlagValue v;
        if (value.is_array()) v.ints = value.get<std::vector<int>>();
        else if (value.is_string()) v.word = value.get<std::string>();
        else if (field->kind == FlagKind::Number) v.number = value.get<double>();
        else v.ints = {value.get<int>()};
        o[field->flag.substr(0, field->flag.find(','))] = v;
    }
    apply_overrides(cfg, o);
    return cfg;
}

void check_fixture(const std::string& name, const nlohmann::json& j, const std::string& weights) {
    BOOST_TEST_MESSAGE("fixture " << name << " with " << weights);
    const ModelConfig cfg = fixture_config(j);

    Model m = make_model(cfg);
    const LoadReport loaded = load_checkpoint(m, (kDir / weights).string());
    // make_goldens.py names a file in the original Microsoft layout NAME.microsoft.safetensors.
    BOOST_TEST(loaded.layout == (weights.find(".microsoft.") != std::string::npos ? "microsoft" : "timm"));
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

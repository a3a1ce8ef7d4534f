// The vitrace binary itself, run as a user runs it: help, real traces of a
// tiny model, and every kind of bad input with its documented exit code
// (docs/cli.md), its one line on stderr, and no output file left behind.
#define BOOST_TEST_MODULE vitrace cli tests
#include <boost/test/unit_test.hpp>

#include <stb/stb_image_write.h>  // libstb-dev; its implementation is compiled into vitrace_io
#include <stdlib.h>
#include <sys/stat.h>

#include <algorithm>
#include <cstring>
#include <limits>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "../test_util.h"
#include "core/model.h"
#include "io/image.h"
#include "io/safetensors.h"

namespace fs = std::filesystem;
using nlohmann::json;
using vitrace::test::RunResult;

namespace {

// A ViT small enough to trace in milliseconds: S=32, P=8 gives 16 patches and
// N=17 tokens; C=16 in 2 heads of 8; 2 blocks; 5 classes.
const std::string kTiny =
    "--model vit_tiny_patch16_224 --image-size 32 --patch 8 --width 16 --depth 2 --heads 2 --classes 5";
constexpr int kTinyClasses = 5;

// The test image: not square, so input.resize has to crop.
constexpr int kImageW = 48, kImageH = 40;

// Known bytes in an -o target that a failed run must leave alone.
const std::string kKeep = "{\"keep\": \"these bytes\"}\n";

// Single quotes for the shell, so paths with spaces or quotes stay one word.
std::string quote(const std::string& s) {
    std::string out = "'";
    for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
    return out + "'";
}

RunResult run_vitrace(const std::string& args) { return vitrace::test::run(quote(VITRACE_BINARY) + " " + args); }

std::string read_bytes(const std::string& path) {
    std::ifstream f(path, std::ios::binary);
    std::ostringstream s;
    s << f.rdbuf();
    return s.str();
}

void write_bytes(const std::string& path, const std::string& bytes) {
    std::ofstream f(path, std::ios::binary);
    f << bytes;
    BOOST_REQUIRE_MESSAGE(f.good(), "cannot write test file " << path);
}

// A w×h RGB PNG of a colour ramp, encoded by stb_image_write.
std::string png_bytes(int w, int h) {
    std::vector<uint8_t> rgb(static_cast<size_t>(w) * h * 3);  // [h, w, rgb]
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++)
            for (int c = 0; c < 3; c++) rgb[(static_cast<size_t>(y) * w + x) * 3 + c] = (x * 5 + y * 3 + c * 80) % 256;
    std::string out;
    auto append = [](void* context, void* data, int size) {
        static_cast<std::string*>(context)->append(static_cast<const char*>(data), size);
    };
    BOOST_REQUIRE(stbi_write_png_to_func(append, &out, w, h, 3, rgb.data(), w * 3));
    return out;
}

// The safetensors bytes of a seeded-random model with the tiny ViT's flags
// plus `overrides` (so a checkpoint for another configuration can be made),
// or of another model with exactly `overrides`; `extra` tensors are added.
using NamedTensors = std::vector<std::pair<std::string, const vitrace::Tensor*>>;
std::string checkpoint_bytes(const vitrace::ConfigOverrides& overrides, const std::string& model = "",
                             const NamedTensors& extra = {}) {
    vitrace::ModelConfig cfg = vitrace::find_model(model.empty() ? "vit_tiny_patch16_224" : model);
    vitrace::ConfigOverrides o = overrides;
    if (model.empty()) {
        o.try_emplace("--image-size", vitrace::FlagValue{32});
        o.try_emplace("--patch", vitrace::FlagValue{8});
        o.try_emplace("--width", vitrace::FlagValue{16});
        o.try_emplace("--depth", vitrace::FlagValue{2});
        o.try_emplace("--heads", vitrace::FlagValue{2});
        o.try_emplace("--classes", vitrace::FlagValue{kTinyClasses});
    }
    vitrace::apply_overrides(cfg, o);
    vitrace::Model m = vitrace::make_model(cfg);
    vitrace::init_random(m, 7);
    std::vector<std::pair<std::string, const vitrace::Tensor*>> tensors;
    vitrace::visit_params(m, [&](const std::string& name, vitrace::Tensor& t, vitrace::ParamKind, int64_t) {
        tensors.push_back({name, &t});
    });
    tensors.insert(tensors.end(), extra.begin(), extra.end());
    return vitrace::make_safetensors(tensors);
}

json parse_json(const std::string& text, const std::string& what) {
    json j = json::parse(text, nullptr, false);
    BOOST_REQUIRE_MESSAGE(!j.is_discarded(), what << " is not valid JSON; it starts: " << text.substr(0, 300));
    return j;
}

int64_t numel(const json& shape) {
    int64_t n = 1;
    for (const json& d : shape) n *= d.get<int64_t>();
    return n;
}

const json* find_step(const json& trace, const std::string& name) {
    for (const json& s : trace["steps"])
        if (s["name"] == name) return &s;
    return nullptr;
}

std::vector<std::string> lines_of(const std::string& text) {
    std::vector<std::string> out;
    std::istringstream s(text);
    for (std::string line; std::getline(s, line);) out.push_back(line);
    return out;
}

void require_success(const RunResult& r) {
    BOOST_REQUIRE_MESSAGE(r.exit_code == 0, "exit " << r.exit_code << ", stderr:\n" << r.err);
}

// A failed run: the documented exit code, and stderr exactly one line
// "vitrace: error: ..." that contains `names`.
void check_error(const RunResult& r, int code, const std::string& names) {
    BOOST_CHECK_EQUAL(r.exit_code, code);
    BOOST_CHECK_MESSAGE(r.err.rfind("vitrace: error: ", 0) == 0, "stderr does not start with 'vitrace: error: ':\n" << r.err);
    BOOST_CHECK_MESSAGE(std::count(r.err.begin(), r.err.end(), '\n') == 1 && r.err.back() == '\n',
                        "stderr is not exactly one line:\n" << r.err);
    BOOST_CHECK_MESSAGE(r.err.find(names) != std::string::npos, "stderr does not mention '" << names << "':\n" << r.err);
}

// Each test case gets a fresh directory holding image.png, removed afterwards.
struct Workdir {
    fs::path dir;
    std::string image;

    Workdir() {
        std::string tmpl = (fs::temp_directory_path() / "vitrace-cli-XXXXXX").string();
        BOOST_REQUIRE(mkdtemp(tmpl.data()));
        dir = tmpl;
        image = path("image.png");
        write_bytes(image, png_bytes(kImageW, kImageH));
    }
    ~Workdir() { fs::remove_all(dir); }

    std::string path(const std::string& name) const { return (dir / name).string(); }

    // Every entry, hidden ones too: a temporary left by a failed run shows here.
    std::set<std::string> entries() const {
        std::set<std::string> out;
        for (const auto& e : fs::directory_iterator(dir)) out.insert(e.path().filename().string());
        return out;
    }
};

// A `vitrace trace` that must fail with exit `code` and a message that contains `names`.
struct BadTrace {
    std::string what, args;
    int code;
    std::string names;
};

// Runs `vitrace trace` (or `report`, which takes the same flags and must fail
// alike) with the case's args, first writing to a fresh -o target and then to
// one that holds kKeep: both must fail alike, create nothing, and leave the
// directory and the existing file exactly as they were.
void check_trace_fails(const Workdir& w, const BadTrace& c, const std::string& command = "trace") {
    const std::string keep = w.path("keep.json");
    write_bytes(keep, kKeep);
    const std::set<std::string> before = w.entries();

    BOOST_TEST_CONTEXT("-o to a new file") {
        check_error(run_vitrace(command + " " + c.args + " -o " + quote(w.path("new.json"))), c.code, c.names);
        BOOST_CHECK(w.entries() == before);
    }
    BOOST_TEST_CONTEXT("-o to an existing file") {
        check_error(run_vitrace(command + " " + c.args + " -o " + quote(keep)), c.code, c.names);
        BOOST_CHECK(w.entries() == before);
        BOOST_CHECK_MESSAGE(read_bytes(keep) == kKeep, "the existing -o file changed; it now holds:\n" << read_bytes(keep));
    }
    fs::remove(keep);
}

}  // namespace

BOOST_AUTO_TEST_SUITE(help)

BOOST_AUTO_TEST_CASE(top_level_help_lists_the_subcommands) {
    const RunResult r = run_vitrace("--help");
    BOOST_CHECK_EQUAL(r.exit_code, 0);
    for (const char* sub : {"trace", "shapes", "models", "bench"})
        BOOST_CHECK_MESSAGE(r.out.find(std::string("\n  ") + sub + " ") != std::string::npos,
                            "--help does not list " << sub << ":\n" << r.out);
}

BOOST_AUTO_TEST_CASE(trace_help_lists_its_flags) {
    const RunResult r = run_vitrace("trace --help");
    BOOST_CHECK_EQUAL(r.exit_code, 0);
    for (const char* flag : {"--model", "--weights", "--image", "--mean", "--std", "--values", "--steps", "-o,--output"})
        BOOST_CHECK_MESSAGE(r.out.find(flag) != std::string::npos, "trace --help does not list " << flag << ":\n" << r.out);
}

BOOST_AUTO_TEST_CASE(no_subcommand_is_a_usage_error) { check_error(run_vitrace(""), 2, "subcommand"); }

// Typos: the nearest name, not a message about something else.
BOOST_AUTO_TEST_CASE(typos_get_did_you_mean) {
    check_error(run_vitrace("trce --model vit_shapes"), 2, "unknown subcommand 'trce'; did you mean trace?");
    check_error(run_vitrace("trace --img data/images/ring.png --model vit_shapes"), 2,
                "vitrace trace has no flag --img; did you mean --image?");
    check_error(run_vitrace("shapes --modle vit_shapes"), 2, "did you mean --model?");
    check_error(run_vitrace("shapes --model vit_bse_patch16_224"), 5,
                "unknown model 'vit_bse_patch16_224'; did you mean vit_base_patch16_224?");
    check_error(run_vitrace("lesson two"), 2, "lesson 'two': lessons are numbered, as in vitrace lesson 2; they are 1 images");
    check_error(run_vitrace("lesson 99"), 2, "lesson 99 does not exist; there are lessons 1 to 23");
}

BOOST_AUTO_TEST_SUITE_END()

// Lesson 23 prints a training log from the data directory: a missing or
// broken log is one error line and nothing on stdout, not half a lesson.
BOOST_FIXTURE_TEST_CASE(a_lesson_that_fails_prints_only_the_error, Workdir) {
    const fs::path data = dir / "data";
    fs::create_directories(data);
    const std::string env = "VITRACE_DATA=" + quote(data.string()) + " ";
    auto lesson_23 = [&] { return vitrace::test::run(env + quote(VITRACE_BINARY) + " lesson 23"); };
    RunResult r = lesson_23();
    check_error(r, 3, "cannot read " + (data / "learning_curves.json").string());
    BOOST_CHECK_EQUAL(r.out, "");
    write_bytes((data / "learning_curves.json").string(), "{\"runs\": [");
    r = lesson_23();
    check_error(r, 3, "learning_curves.json: not a learning-curves log");
    BOOST_CHECK_EQUAL(r.out, "");
    write_bytes((data / "learning_curves.json").string(), "{\"runs\": [{\"model\": \"vit_shapes\"}]}");
    r = lesson_23();
    check_error(r, 3, "not a learning-curves log");
    BOOST_CHECK_EQUAL(r.out, "");
}

// The binary keeps the one list of built-in models; `models --json` and the
// `models` table both print it, so they must name the same models.
BOOST_AUTO_TEST_CASE(models_json_lists_every_model) {
    const RunResult listed = run_vitrace("models --json");
    require_success(listed);
    const json models = parse_json(listed.out, "models --json");  // the whole of stdout
    BOOST_REQUIRE(models.is_array() && !models.empty());
    std::set<std::string> json_names;
    for (const json& m : models) {
        BOOST_REQUIRE_MESSAGE(m.is_object(), "an entry is not an object: " << m);
        BOOST_TEST_CONTEXT("model " << m.value("name", "?")) {
            for (const char* key : {"name", "family", "parameters", "description", "config"})
                BOOST_REQUIRE_MESSAGE(m.contains(key), "no \"" << key << "\" in " << m.dump().substr(0, 300));
            BOOST_REQUIRE(m["name"].is_string());
            BOOST_CHECK_MESSAGE(m["family"] == "vit" || m["family"] == "swin", "family " << m["family"]);
            BOOST_CHECK(m["parameters"].is_number_integer() && m["parameters"] > 0);
            BOOST_CHECK(m["description"].is_string());
            BOOST_CHECK(m["config"].is_object());
            json_names.insert(m["name"].get<std::string>());
        }
    }

    const RunResult table = run_vitrace("models");
    require_success(table);
    const std::vector<std::string> lines = lines_of(table.out);
    BOOST_REQUIRE_MESSAGE(!lines.empty() && lines[0].rfind("model ", 0) == 0, "no header row:\n" << table.out);
    std::set<std::string> table_names;
    for (size_t i = 1; i < lines.size(); i++) table_names.insert(lines[i].substr(0, lines[i].find(' ')));
    BOOST_CHECK_EQUAL(json_names.size(), models.size());  // no name twice
    BOOST_CHECK_EQUAL(lines.size() - 1, models.size());   // one row per model
    BOOST_CHECK_EQUAL_COLLECTIONS(json_names.begin(), json_names.end(), table_names.begin(), table_names.end());
}

BOOST_AUTO_TEST_CASE(shapes_of_vit_large_name_every_axis) {
    const RunResult r = run_vitrace("shapes --model vit_large_patch16_224");
    BOOST_CHECK_EQUAL(r.exit_code, 0);
    BOOST_CHECK_EQUAL(r.err, "");
    const std::vector<std::pair<std::string, std::string>> expected = {
        {"patch_embed.proj", "[n=196, C=1024]"},
        {"blocks.23.attn.softmax", "[heads=16, N_q=197, N_k=197]"},
        {"blocks.23.mlp.fc1", "[N=197, hidden=4096]"},
        {"head", "[classes=1000]"},
    };
    const std::vector<std::string> lines = lines_of(r.out);
    for (const auto& [step, shape] : expected) {
        const auto line = std::find_if(lines.begin(), lines.end(),
                                       [&](const std::string& l) { return l.find(" " + step + " ") != std::string::npos; });
        BOOST_REQUIRE_MESSAGE(line != lines.end(), "shapes has no step " << step << ":\n" << r.out);
        BOOST_CHECK_MESSAGE(line->find(shape) != std::string::npos, step << ": expected " << shape << " in\n" << *line);
    }
    BOOST_CHECK_MESSAGE(r.out.find("blocks.24.") == std::string::npos, "vit_large has 24 blocks, 0..23");
}

// shapes --steps: only the matching steps, the footer says how many; a pattern
// matching nothing warns with the close names.
BOOST_AUTO_TEST_CASE(shapes_steps_prints_only_the_matching_steps) {
    const RunResult r = run_vitrace("shapes --model vit_base_patch16_224 --steps '*.attn.softmax,head'");
    require_success(r);
    const std::vector<std::string> lines = lines_of(r.out);
    BOOST_REQUIRE_EQUAL(lines.size(), 1u + 12u + 1u + 1u);  // header, 12 softmax, head, footer
    for (size_t i = 1; i <= 12; i++)
        BOOST_CHECK_MESSAGE(lines[i].find("blocks." + std::to_string(i - 1) + ".attn.softmax ") != std::string::npos, lines[i]);
    BOOST_CHECK(lines[13].find(" head ") != std::string::npos);
    BOOST_CHECK_MESSAGE(lines[14].find("188 steps (13 shown)") != std::string::npos, lines[14]);
    const RunResult none = run_vitrace("shapes --model vit_base_patch16_224 --steps 'blocks.0.attn.sotfmax'");
    require_success(none);
    BOOST_CHECK_MESSAGE(none.err.find("--steps") != std::string::npos && none.err.find("blocks.0.attn.softmax") != std::string::npos,
                        none.err);
}

// shapes --blocks first: one block of each kind; the left-out blocks are named,
// with the block they repeat. ViT-B: blocks.0 only. Swin-T: each stage's first
// two blocks (regular and shifted windows differ), stage 2's four others
// alternate, and stage 3's second block repeats its first (a 7x7 grid, no shift).
BOOST_AUTO_TEST_CASE(shapes_blocks_first_shows_one_block_of_each_kind) {
    const RunResult vit = run_vitrace("shapes --model vit_base_patch16_224 --blocks first");
    require_success(vit);
    BOOST_CHECK(vit.out.find("blocks.0.mlp.fc2 ") != std::string::npos);
    BOOST_CHECK(vit.out.find("blocks.1.norm1") == std::string::npos);
    BOOST_CHECK(vit.out.find("blocks.11.") == std::string::npos);
    BOOST_CHECK_MESSAGE(vit.out.find("... blocks.1 to blocks.11 (11 blocks): the same steps, shapes and MACs as blocks.0") !=
                            std::string::npos,
                        vit.out);
    BOOST_CHECK(vit.out.find(" head ") != std::string::npos);
    BOOST_CHECK_MESSAGE(vit.out.find("188 steps (23 shown)") != std::string::npos, vit.out);

    const RunResult swin = run_vitrace("shapes --model swin_tiny_patch4_window7_224 --blocks first --wide");
    require_success(swin);
    for (const char* shown : {"layers.0.blocks.1.attn_mask", "layers.2.blocks.1.attn_mask", "layers.3.blocks.0.attn.softmax"})
        BOOST_CHECK_MESSAGE(swin.out.find(shown) != std::string::npos, shown);
    for (const char* hidden : {"layers.2.blocks.2.", "layers.2.blocks.5.", "layers.3.blocks.1."})
        BOOST_CHECK_MESSAGE(swin.out.find(std::string(" ") + hidden) == std::string::npos, hidden);
    BOOST_CHECK_MESSAGE(swin.out.find("... layers.2.blocks.2 to layers.2.blocks.5 (4 blocks): as layers.2.blocks.0 and "
                                      "layers.2.blocks.1, in turn") != std::string::npos,
                        swin.out);
    BOOST_CHECK(swin.out.find("... layers.3.blocks.1 (1 block): the same steps, shapes and MACs as layers.3.blocks.0") !=
                std::string::npos);
    check_error(run_vitrace("shapes --model vit_base_patch16_224 --blocks some"), 2, "--blocks");
}

// Lines keep within 120 columns unless --wide: a long step name stands on its
// own line, its row under it. --wide gives one line per step.
BOOST_FIXTURE_TEST_CASE(tables_keep_within_120_columns_unless_wide, Workdir) {
    auto widest = [](const std::string& out) {
        size_t w = 0;
        for (const std::string& l : lines_of(out)) w = std::max(w, l.size());
        return w;
    };
    for (const std::string args : {"shapes --model swin_tiny_patch4_window7_224", "shapes --model vit_large_patch16_224",
                                   "shapes --model swin_base_patch4_window12_384", "models",
                                   "compare --vit vit_base_patch16_224 --swin swin_tiny_patch4_window7_224"}) {
        const RunResult r = run_vitrace(args);
        require_success(r);
        BOOST_CHECK_MESSAGE(widest(r.out) <= 125, args << ": a line of " << widest(r.out) << " columns");
    }
    // Every lesson, the commands it shows broken before their flags; the
    // trace of a Swin, whose --show headers put their statistics on a second line.
    for (int n = 1; n <= 23; n++) {
        const RunResult lesson = run_vitrace("lesson " + std::to_string(n));
        require_success(lesson);
        BOOST_CHECK_MESSAGE(widest(lesson.out) <= 120, "lesson " << n << ": a line of " << widest(lesson.out) << " columns");
    }
    const RunResult swin_show = run_vitrace("trace --model swin_tiny_patch4_window7_224 --image " + quote(image) +
                                            " --show 'layers.0.blocks.0.attn.split_heads[0, 0, 0, :2]'");
    require_success(swin_show);
    BOOST_CHECK_LE(widest(swin_show.out), 120u);
    const RunResult narrow = run_vitrace("shapes --model swin_tiny_patch4_window7_224");
    const RunResult wide = run_vitrace("shapes --model swin_tiny_patch4_window7_224 --wide");
    require_success(wide);
    BOOST_CHECK_GT(widest(wide.out), 120u);
    // The same steps in both: every "#  step" row of the wide table, whole, in
    // the narrow one, the long names on a line of their own.
    const std::vector<std::string> wl = lines_of(wide.out), nl = lines_of(narrow.out);
    BOOST_CHECK_GT(nl.size(), wl.size());
    size_t rows = 0;
    for (const std::string& l : wl) {
        std::istringstream words(l);
        std::string index, name;
        if (!(words >> index >> name) || index.find_first_not_of("0123456789") != std::string::npos) continue;
        rows++;
        BOOST_CHECK_MESSAGE(narrow.out.find(index + "  " + name) != std::string::npos, "no row " << index << " " << name);
    }
    BOOST_CHECK_EQUAL(rows, 288u);
    const auto spilled = std::find_if(nl.begin(), nl.end(), [](const std::string& l) {
        return l.find("layers.0.blocks.0.attn.relative_position_bias_table") != std::string::npos;
    });
    BOOST_REQUIRE(spilled != nl.end() && spilled + 1 != nl.end());
    BOOST_CHECK_MESSAGE(spilled->find("parameter") == std::string::npos, *spilled);  // the name alone
    BOOST_CHECK_MESSAGE((spilled + 1)->find("[relative_positions=169, heads=3]") != std::string::npos, *(spilled + 1));
}

// Attention matrices name their query and key axes apart, in the trace's dims.
BOOST_AUTO_TEST_CASE(attention_axes_are_named_query_and_key) {
    const RunResult vit = run_vitrace("shapes --model vit_tiny_patch16_224 --steps 'blocks.0.attn.s*'");
    require_success(vit);
    BOOST_CHECK_MESSAGE(vit.out.find("blocks.0.attn.scores") != std::string::npos &&
                            vit.out.find("[heads=3, N_q=197, N_k=197]") != std::string::npos &&
                            vit.out.find("[qkv=3, heads=3, N=197, head_dim=64]") != std::string::npos,
                        vit.out);
    const RunResult swin = run_vitrace("shapes --model swin_tiny_patch4_window7_224 --steps 'layers.0.blocks.1.*'");
    require_success(swin);
    for (const char* shape : {"[windows=64, heads=3, T_q=49, T_k=49]", "[windows=64, T_q=49, T_k=49]", "[T_q=49, T_k=49]",
                              "[heads=3, T_q=49, T_k=49]", "[windows=64, T=49, C=96]"})
        BOOST_CHECK_MESSAGE(swin.out.find(shape) != std::string::npos, shape);
    BOOST_CHECK(swin.out.find("window_tokens") == std::string::npos);
}

BOOST_FIXTURE_TEST_SUITE(trace, Workdir)

BOOST_AUTO_TEST_CASE(writes_the_documented_json) {
    const std::string out = path("trace.json");
    write_bytes(out, kKeep);  // a successful run replaces an existing file
    const RunResult r = run_vitrace("trace " + kTiny + " --image " + quote(image) + " -o " + quote(out));
    require_success(r);
    BOOST_CHECK_EQUAL(r.err, "");
    BOOST_CHECK_MESSAGE(r.out.find("untrained") != std::string::npos, "stdout does not say 'untrained':\n" << r.out);
    BOOST_CHECK_MESSAGE(r.out.find("blocks.1.attn.softmax") != std::string::npos, "no step table on stdout:\n" << r.out);
    BOOST_CHECK(entries() == (std::set<std::string>{"image.png", "trace.json"}));

    const json t = parse_json(read_bytes(out), out);
    BOOST_CHECK_EQUAL(t["format"], "vitrace.trace/1");

    const json& model = t["model"];
    BOOST_CHECK_EQUAL(model["name"], "vit_tiny_patch16_224");
    BOOST_CHECK(model["family"].is_string());
    BOOST_CHECK(model["config"].is_object());
    BOOST_CHECK_EQUAL(model["config"]["width"], 16);
    BOOST_CHECK_EQUAL(model["config"]["depth"], 2);
    BOOST_CHECK_EQUAL(model["trained"], false);

    const json& input = t["input"];
    BOOST_CHECK_EQUAL(input["path"], image);
    BOOST_CHECK_EQUAL(input["original_size"]["width"], kImageW);
    BOOST_CHECK_EQUAL(input["original_size"]["height"], kImageH);
    BOOST_CHECK(input["preprocessing"].is_object());

    const json& steps = t["steps"];
    BOOST_REQUIRE(steps.is_array() && !steps.empty());
    for (size_t i = 0; i < steps.size(); i++) {
        const json& s = steps[i];
        BOOST_TEST_CONTEXT("step " << i << " " << s.value("name", "?")) {
            BOOST_CHECK_EQUAL(s["index"], i);
            BOOST_CHECK(s["name"].is_string());
            BOOST_CHECK(s["op"].is_string());
            BOOST_REQUIRE(s["shape"].is_array() && s["dims"].is_array());
            BOOST_CHECK_EQUAL(s["shape"].size(), s["dims"].size());
            const json& st = s["stats"];
            BOOST_REQUIRE(st.is_object());
            for (const char* k : {"min", "max", "mean", "std"}) BOOST_CHECK_MESSAGE(st[k].is_number(), k << " is not a number");
            BOOST_CHECK(st["min"] <= st["mean"] && st["mean"] <= st["max"] && st["std"] >= 0);
            BOOST_REQUIRE(s["values"].is_array());
            BOOST_CHECK_EQUAL(s["values"].size(), std::min<int64_t>(numel(s["shape"]), vitrace::kSummaryValues));
            BOOST_CHECK(s["macs"].is_number_integer() && s["macs"] >= 0);
            BOOST_CHECK(s["time_ms"].is_number() && s["time_ms"] >= 0);
        }
    }
    const std::vector<std::pair<std::string, json>> expected = {
        {"patch_embed.proj", {16, 16}},   {"blocks.1.attn.qkv", {17, 48}}, {"blocks.1.attn.softmax", {2, 17, 17}},
        {"blocks.1.mlp.fc1", {17, 64}}, {"norm", {17, 16}},               {"head", {kTinyClasses}},
    };
    for (const auto& [name, shape] : expected) {
        const json* s = find_step(t, name);
        BOOST_REQUIRE_MESSAGE(s, "no step " << name);
        BOOST_CHECK_MESSAGE((*s)["shape"] == shape, name << ": shape " << (*s)["shape"] << ", expected " << shape);
    }

    const json& logits = t["output"]["logits"];
    BOOST_REQUIRE(logits.is_array());
    BOOST_CHECK_EQUAL(logits.size(), kTinyClasses);
    for (const json& v : logits) BOOST_CHECK(v.is_number());
    const json& top5 = t["output"]["top5"];
    BOOST_REQUIRE(top5.is_array());
    BOOST_REQUIRE_EQUAL(top5.size(), 5u);
    for (size_t i = 0; i < top5.size(); i++) {
        BOOST_TEST_CONTEXT("top5[" << i << "]") {
            BOOST_CHECK(top5[i]["index"].is_number_integer() && top5[i]["index"] >= 0 && top5[i]["index"] < kTinyClasses);
            BOOST_CHECK(top5[i]["label"].is_null());
            BOOST_CHECK(top5[i]["score"].is_number() && top5[i]["score"] > 0 && top5[i]["score"] <= 1);
            if (i) BOOST_CHECK(top5[i]["score"] <= top5[i - 1]["score"]);
        }
    }
    const size_t argmax = std::max_element(logits.begin(), logits.end()) - logits.begin();
    BOOST_CHECK_EQUAL(top5[0]["index"], argmax);
}

BOOST_AUTO_TEST_CASE(fitting_weights_make_the_model_trained) {
    const std::string weights = path("tiny.safetensors"), out = path("trace.json");
    write_bytes(weights, checkpoint_bytes({}));
    const RunResult r = run_vitrace("trace " + kTiny + " --image " + quote(image) + " --weights " + quote(weights) +
                                    " -o " + quote(out));
    require_success(r);
    BOOST_CHECK_MESSAGE(r.out.find("untrained") == std::string::npos, "stdout says 'untrained':\n" << r.out);
    const json t = parse_json(read_bytes(out), out);
    BOOST_CHECK_EQUAL(t["model"]["trained"], true);
    BOOST_CHECK_EQUAL(t["model"]["weights"], weights);
}

// A named ViT with shipped weights at another size resamples the file's
// position grid (8x8 at 64 px) to the new one, as timm's create_model(...,
// img_size=S) does; the same model with random weights is made at the new
// size and has nothing to resample. shapes lists the step the trace records.
BOOST_AUTO_TEST_CASE(a_shipped_vit_runs_at_another_size) {
    const std::string out = path("vit128.json");
    require_success(run_vitrace("trace --model vit_shapes --image-size 128 --image " + quote(image) + " -o " + quote(out)));
    const json t = parse_json(read_bytes(out), out);
    BOOST_CHECK_EQUAL(t["model"]["trained"], true);
    const auto resample = std::find_if(t["steps"].begin(), t["steps"].end(),
                                       [](const json& s) { return s["name"] == "pos_embed.resample"; });
    BOOST_REQUIRE(resample != t["steps"].end());
    BOOST_CHECK_EQUAL((*resample)["shape"].dump(), "[16,16,64]");
    const RunResult shapes = run_vitrace("shapes --model vit_shapes --image-size 128");
    require_success(shapes);
    BOOST_CHECK_NE(shapes.out.find("pos_embed.resample"), std::string::npos);
    const std::string random = path("vit128_random.json");
    require_success(run_vitrace("trace --model vit_shapes --image-size 128 --untrained --image " + quote(image) + " -o " +
                                quote(random)));
    const json r = parse_json(read_bytes(random), random);
    BOOST_CHECK(std::none_of(r["steps"].begin(), r["steps"].end(),
                             [](const json& s) { return s["name"] == "pos_embed.resample"; }));
    const RunResult native = run_vitrace("shapes --model vit_shapes");
    require_success(native);
    BOOST_CHECK_EQUAL(native.out.find("pos_embed.resample"), std::string::npos);
}

BOOST_AUTO_TEST_CASE(values_none_full_and_steps) {
    // A quiet run with `flags` that must succeed and print nothing on stderr; returns its trace.
    auto traced = [&](const std::string& flags) {
        const RunResult r = run_vitrace("trace " + kTiny + " --image " + quote(image) + " -q -o " +
                                        quote(path("t.json")) + " " + flags);
        require_success(r);
        BOOST_CHECK_EQUAL(r.err, "");
        return parse_json(read_bytes(path("t.json")), "the trace of " + flags);
    };

    BOOST_TEST_CONTEXT("--values none") {
        const json t = traced("--values none");
        for (const json& s : t["steps"]) BOOST_CHECK_MESSAGE(s["values"].is_null(), s["name"] << ": values not null");
    }
    BOOST_TEST_CONTEXT("--values full") {
        const json t = traced("--values full");
        for (const json& s : t["steps"]) {
            BOOST_REQUIRE(s["values"].is_array());
            BOOST_CHECK_MESSAGE((int64_t)s["values"].size() == numel(s["shape"]),
                                s["name"] << ": " << s["values"].size() << " values, shape " << s["shape"]);
        }
    }
    BOOST_TEST_CONTEXT("--steps 'blocks.1.attn.*'") {
        const json t = traced("--steps 'blocks.1.attn.*'");
        int full = 0;
        for (const json& s : t["steps"]) {
            const std::string name = s["name"];
            BOOST_REQUIRE(s["values"].is_array());
            const int64_t n = s["values"].size();
            if (name.rfind("blocks.1.attn.", 0) == 0) {
                full++;
                BOOST_CHECK_MESSAGE(n == numel(s["shape"]), name << ": " << n << " values, shape " << s["shape"]);
            } else {
                BOOST_CHECK_MESSAGE(n <= vitrace::kSummaryValues, name << ": " << n << " values, more than a summary");
            }
        }
        BOOST_CHECK_MESSAGE(full >= 7, "only " << full << " steps matched blocks.1.attn.*");
    }
}

// --show: a large step prints its corners and how to see more; slices; --show-all; bad slices.
BOOST_AUTO_TEST_CASE(show_summarises_large_steps_and_takes_slices) {
    // vit_tiny at 224: blocks.0.attn.softmax holds 3 x 197 x 197 = 116427 values.
    const std::string args = "trace --model vit_tiny_patch16_224 --depth 1 --image " + quote(image) + " --show ";
    const RunResult corners = run_vitrace(args + "blocks.0.attn.softmax");
    require_success(corners);
    BOOST_CHECK_LT(lines_of(corners.out).size(), 30u);
    BOOST_CHECK_MESSAGE(corners.out.find("116427 values: the corners of the first slice") != std::string::npos, corners.out);
    BOOST_CHECK_MESSAGE(corners.out.find("--show 'blocks.0.attn.softmax[0, :8, :8]'") != std::string::npos, corners.out);
    BOOST_CHECK_MESSAGE(corners.out.find("N_k=196") != std::string::npos, corners.out);  // the last row and column
    const RunResult all = run_vitrace(args + "blocks.0.attn.softmax --show-all");
    require_success(all);
    BOOST_CHECK_GT(lines_of(all.out).size(), 3u * 197u);

    // A slice prints exactly its values: heads 1, query 5, keys 0..7, as the JSON holds them.
    const std::string out = path("t.json");
    const RunResult slice = run_vitrace(args + "'blocks.0.attn.softmax[1, 5, :8]' -o " + quote(out) + " --steps blocks.0.attn.softmax");
    require_success(slice);
    BOOST_CHECK_MESSAGE(slice.out.find("heads=1, N_q=5") != std::string::npos, slice.out);
    const json t = parse_json(read_bytes(out), out);
    const json* step = find_step(t, "blocks.0.attn.softmax");
    BOOST_REQUIRE(step);
    std::string row;
    for (int k = 0; k < 8; k++) {
        char v[32];
        std::snprintf(v, sizeof v, "%.4f", (*step)["values"][(1 * 197 + 5) * 197 + k].get<float>());
        row += " " + std::string(v);
    }
    const std::vector<std::string> lines = lines_of(slice.out);
    const auto it = std::find_if(lines.begin(), lines.end(), [](const std::string& l) { return l.find("heads=1, N_q=5") != std::string::npos; });
    BOOST_REQUIRE(it != lines.end() && it + 2 < lines.end());
    std::string printed;
    std::istringstream words(*(it + 2));
    for (std::string w; words >> w;) printed += " " + w;
    BOOST_CHECK_EQUAL(printed, row);

    // Bad slices: one error line, nothing printed.
    for (const auto& [bad, says] : std::vector<std::pair<std::string, std::string>>{
             {"'blocks.0.attn.softmax[0, 300]'", "axis 1 (N_q 197): index 300 is outside 0..196"},
             {"'blocks.0.attn.softmax[0, 0, 0, 0]'", "has 3 axes (heads 3, N_q 197, N_k 197), the slice names 4"},
             {"'blocks.0.attn.softmax[0'", "a '[' is not closed"},
             {"'blocks.0.attn.softmax[x]'", "'x' is not an index"},
             {"'blocks.0.attn.softmax[0, 5:2]'", "the range 5:2 is empty"}}) {
        const RunResult r = run_vitrace(args + bad);
        BOOST_TEST_CONTEXT(bad) {
            check_error(r, 2, says);
            BOOST_CHECK_EQUAL(r.out, "");
        }
    }
}

// The first printed line says what preprocessing did; the JSON names the filter.
BOOST_AUTO_TEST_CASE(preprocessing_is_said_above_the_table) {
    const std::string out = path("t.json");
    const RunResult crop = run_vitrace("trace " + kTiny + " --image " + quote(image) + " -o " + quote(out));
    require_success(crop);
    BOOST_CHECK_EQUAL(lines_of(crop.out).at(0), "input: 48x40 -> centre 40x40 -> 32x32 (shrunk 1.2x, Mitchell filter)");
    BOOST_CHECK_EQUAL(parse_json(read_bytes(out), out)["input"]["preprocessing"]["resize"]["filter"], "mitchell (stb_image_resize)");
    write_bytes(path("tiny.png"), png_bytes(7, 13));
    const RunResult blown_up = run_vitrace("trace " + kTiny + " --image " + quote(path("tiny.png")) + " --show head");
    require_success(blown_up);
    BOOST_CHECK_EQUAL(lines_of(blown_up.out).at(0), "input: 7x13 -> centre 7x7 -> 32x32 (enlarged 4.6x, Catmull-Rom filter)");
    write_bytes(path("exact.png"), png_bytes(32, 32));
    const RunResult exact = run_vitrace("trace " + kTiny + " --image " + quote(path("exact.png")));
    BOOST_CHECK_EQUAL(lines_of(exact.out).at(0), "input: 32x32, the model's size: used as it is");
}

BOOST_AUTO_TEST_CASE(flags_that_would_do_nothing_warn_by_their_own_name) {
    const std::string args = "trace " + kTiny + " --image " + quote(image);
    const RunResult steps = run_vitrace(args + " --steps 'blocks.0.*' -q");
    require_success(steps);
    BOOST_CHECK_MESSAGE(steps.err.find("vitrace: warning: --steps gives steps all their values in the JSON trace, but "
                                       "there is no -o FILE") != std::string::npos, steps.err);
    const RunResult show = run_vitrace(args + " --show blocks.0.attn.softmx");
    require_success(show);
    BOOST_CHECK_MESSAGE(show.err.find("--show pattern 'blocks.0.attn.softmx' matches no step; close names: "
                                      "blocks.0.attn.softmax") != std::string::npos, show.err);
    BOOST_CHECK(show.err.find("--steps") == std::string::npos);
}

BOOST_AUTO_TEST_CASE(a_steps_pattern_matching_nothing_warns_with_close_names) {
    const RunResult r = run_vitrace("trace " + kTiny + " --image " + quote(image) + " -q -o " + quote(path("t.json")) +
                                    " --steps 'blocks.1.atn.softmax'");
    BOOST_CHECK_EQUAL(r.exit_code, 0);
    BOOST_CHECK_MESSAGE(r.err.rfind("vitrace: warning: ", 0) == 0, "no warning on stderr:\n" << r.err);
    BOOST_CHECK_MESSAGE(r.err.find("blocks.1.atn.softmax") != std::string::npos, "the warning does not name the pattern:\n" << r.err);
    BOOST_CHECK_MESSAGE(r.err.find("blocks.1.attn.softmax") != std::string::npos, "the warning does not suggest the close name:\n" << r.err);
    BOOST_CHECK(fs::exists(path("t.json")));
}

BOOST_AUTO_TEST_CASE(dash_writes_the_json_to_stdout_and_no_table) {
    const RunResult r = run_vitrace("trace " + kTiny + " --image " + quote(image) + " -o -");
    require_success(r);
    const json t = parse_json(r.out, "stdout");  // the whole of stdout: a table would break it
    BOOST_CHECK_EQUAL(t["format"], "vitrace.trace/1");
    BOOST_CHECK_MESSAGE(r.err.find("untrained") != std::string::npos, "the predictions are not on stderr:\n" << r.err);
    BOOST_CHECK(entries() == std::set<std::string>{"image.png"});
}

BOOST_AUTO_TEST_CASE(bad_image_or_checkpoint) {
    write_bytes(path("text.png"), "this is not an image\n");
    const std::string png = png_bytes(kImageW, kImageH);
    write_bytes(path("truncated.png"), png.substr(0, png.size() / 2));
    write_bytes(path("empty.png"), "");
    fs::create_directory(path("folder.png"));
    write_bytes(path("short.safetensors"), std::string("\x08\x00\x00\x00", 4));
    write_bytes(path("garbage.safetensors"), std::string("\x10\x00\x00\x00\x00\x00\x00\x00", 8) + "not json at all!");
    vitrace::ConfigOverrides wider;
    wider["--width"] = vitrace::FlagValue{32};
    write_bytes(path("wider.safetensors"), checkpoint_bytes(wider));

    const std::string tiny_image = kTiny + " --image " + quote(image);
    const std::vector<BadTrace> cases = {
        {"missing image", kTiny + " --image " + quote(path("missing.png")), 3, "missing.png"},
        {"not an image", kTiny + " --image " + quote(path("text.png")), 3, "not a PNG or JPEG"},
        {"truncated PNG", kTiny + " --image " + quote(path("truncated.png")), 3, "truncated"},
        {"empty image", kTiny + " --image " + quote(path("empty.png")), 3, "empty"},
        {"directory as image", kTiny + " --image " + quote(path("folder.png")), 3, "directory"},
        {"4-byte checkpoint", tiny_image + " --weights " + quote(path("short.safetensors")), 4, "too short"},
        {"garbage header", tiny_image + " --weights " + quote(path("garbage.safetensors")), 4, "not valid JSON"},
        {"missing checkpoint", tiny_image + " --weights " + quote(path("missing.safetensors")), 4, "missing.safetensors"},
        {"directory as checkpoint", tiny_image + " --weights " + quote(dir.string()), 4, "directory"},
        {"checkpoint of another width", tiny_image + " --weights " + quote(path("wider.safetensors")), 4,
         "does not fit"},
    };
    for (const std::string command : {"trace", "report"})
        for (const BadTrace& c : cases)
            BOOST_TEST_CONTEXT(command << ": " << c.what) { check_trace_fails(*this, c, command); }
}

// A safetensors file from a header (JSON text) and data bytes.
std::string safetensors_bytes(const std::string& header, const std::string& data) {
    std::string out(8, '\0');
    for (int i = 0; i < 8; i++) out[i] = static_cast<char>((header.size() >> (8 * i)) & 0xFF);
    return out + header + data;
}

BOOST_AUTO_TEST_CASE(every_kind_of_bad_checkpoint) {
    const std::string f8(8, '\0');  // two float32 zeros
    std::string huge_len(8, '\0');
    huge_len[4] = 1;  // 2^32 bytes of header: above the 100 MB limit
    vitrace::ConfigOverrides none;
    std::string good = checkpoint_bytes(none);
    // The same file with one float in blocks.0.norm1.weight's place set to NaN:
    // found by loading, then written back with that value poisoned.
    const std::string nan_file = [&] {
        vitrace::SafetensorsFile f = vitrace::SafetensorsFile::from_memory(good, "good");
        const vitrace::TensorEntry* e = f.find("blocks.0.norm1.weight");
        std::string bytes = good;
        const uint64_t header_len = bytes.size() - (f.tensors().back().end);  // 8 + header, since data ends the file
        const float nan = std::numeric_limits<float>::quiet_NaN();
        std::memcpy(&bytes[header_len + e->begin], &nan, 4);
        return bytes;
    }();
    const std::vector<std::pair<std::string, std::pair<std::string, std::string>>> files = {
        {"short", {std::string("\x08\x00\x00", 3), "too short"}},
        {"header_past_end", {std::string("\xff\x00\x00\x00\x00\x00\x00\x00{}", 10), "runs past the end of the file"}},
        {"header_too_big", {huge_len + "{}", "above the 100 MB limit"}},
        {"not_json", {safetensors_bytes("{nope", ""), "not valid JSON"}},
        {"not_object", {safetensors_bytes("[1, 2]", ""), "not an object"}},
        {"offsets_out_of_range",
         {safetensors_bytes(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,16]}})", f8), "outside the data buffer"}},
        {"overlapping",
         {safetensors_bytes(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})", f8),
          "overlaps"}},
        {"hole",
         {safetensors_bytes(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})", f8), "belong to no tensor"}},
        {"byte_size",
         {safetensors_bytes(R"({"a":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}})", f8), "needs 12"}},
        {"unknown_dtype",
         {safetensors_bytes(R"({"a":{"dtype":"Q4","shape":[2],"data_offsets":[0,8]}})", f8), "unknown dtype 'Q4'"}},
        {"duplicate",
         {safetensors_bytes(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})", f8),
          "appears twice"}},
        {"nonfinite", {nan_file, "NaN or infinite values in 1 tensors (blocks.0.norm1.weight (1))"}},
        {"missing_tensor", {safetensors_bytes("{}", ""), "missing (cls_token, pos_embed"}},
    };
    std::vector<BadTrace> cases;
    const std::string tiny_image = kTiny + " --image " + quote(image);
    for (const auto& [name, file] : files) {
        write_bytes(path(name + ".safetensors"), file.first);
        cases.push_back({name, tiny_image + " --weights " + quote(path(name + ".safetensors")), 4, file.second});
    }
    // Unexpected tensors and wrong shapes, each named with what was expected.
    vitrace::ConfigOverrides more_classes;
    more_classes["--classes"] = vitrace::FlagValue{kTinyClasses + 1};
    write_bytes(path("wrong_head.safetensors"), checkpoint_bytes(more_classes));
    cases.push_back({"wrong shape", tiny_image + " --weights " + quote(path("wrong_head.safetensors")), 4,
                     "head.weight: expected [5, 16], got [6, 16]"});
    vitrace::ConfigOverrides deeper;
    deeper["--depth"] = vitrace::FlagValue{3};
    write_bytes(path("deeper.safetensors"), checkpoint_bytes(deeper));
    cases.push_back({"unexpected tensors", tiny_image + " --weights " + quote(path("deeper.safetensors")), 4,
                     "unexpected (blocks.2.norm1.weight"});
    for (const BadTrace& c : cases)
        BOOST_TEST_CONTEXT(c.what) { check_trace_fails(*this, c); }

    // --allow-nonfinite loads the poisoned file and traces it.
    require_success(run_vitrace("trace " + tiny_image + " --weights " + quote(path("nonfinite.safetensors")) +
                                " --allow-nonfinite -q"));
}

BOOST_AUTO_TEST_CASE(every_kind_of_bad_image) {
    const std::string images = std::string(VITRACE_TEST_DATA) + "/data/images/";
    const std::vector<BadTrace> cases = {
        {"truncated JPEG", kTiny + " --image " + quote(images + "truncated.jpg"), 3, "truncated JPEG"},
        {"PNG with a bad CRC", kTiny + " --image " + quote(images + "bad_crc.png"), 3, "CRC"},
        {"PNG claiming 100000x100000", kTiny + " --image " + quote(images + "huge.png"), 3, "above the limit"},
        {"JPEG claiming 40000x40000", kTiny + " --image " + quote(images + "huge.jpg"), 3, "above the limit"},
        {"over the memory budget", kTiny + " --image " + quote(image) + " --max-memory 1K", 5, "memory budget"},
    };
    for (const BadTrace& c : cases)
        BOOST_TEST_CONTEXT(c.what) { check_trace_fails(*this, c); }
    // These must work: every flavour of PNG, a JPEG, a 1x1 image, a PNG named .jpg (with a warning).
    for (const char* name : {"gray_3x7.png", "gray_alpha.png", "rgba.png", "palette.png", "gray16.png", "rgb16.png",
                             "one_pixel.png", "solid.jpg", "rgb_7x3.png"})
        BOOST_TEST_CONTEXT(name) { require_success(run_vitrace("trace " + kTiny + " --image " + quote(images + name) + " -q")); }
    const RunResult renamed = run_vitrace("trace " + kTiny + " --image " + quote(images + "png_named.jpg") + " -q");
    require_success(renamed);
    BOOST_CHECK(renamed.err.rfind("vitrace: warning: image", 0) == 0);
}

BOOST_AUTO_TEST_CASE(bad_model_configuration) {
    const std::string img = " --image " + quote(image);
    const std::string vit_tiny = "--model vit_tiny_patch16_224" + img;
    const std::string small = vit_tiny + " --patch 8 --width 16 --heads 2 --classes 5";
    const std::vector<BadTrace> cases = {
        {"image size 225, patch 16", vit_tiny + " --image-size 225", 5, "not divisible by patch size 16"},
        {"heads 5 for width 192", vit_tiny + " --heads 5", 5, "heads 5 do not divide width 192"},
        {"unknown model", "--model vit_huge_patch99" + img, 5, "vit_huge_patch99"},
        {"depth 0", small + " --image-size 32 --depth 0", 5, "depth"},
        {"negative width", vit_tiny + " --width -16 --heads 1", 5, "width"},
        {"image size 0", small + " --image-size 0 --depth 1", 5, "image size"},
        {"negative heads", vit_tiny + " --heads -2", 5, "heads"},
        {"classes -1", vit_tiny + " --classes -1", 5, "classes"},
    };
    for (const std::string command : {"trace", "report"})
        for (const BadTrace& c : cases)
            BOOST_TEST_CONTEXT(command << ": " << c.what) { check_trace_fails(*this, c, command); }
}

BOOST_AUTO_TEST_CASE(bad_flags) {
    const std::string tiny_image = kTiny + " --image " + quote(image);
    const std::vector<BadTrace> cases = {
        {"unknown flag", tiny_image + " --frobnicate", 2, "has no flag --frobnicate"},
        {"--mean with two numbers", tiny_image + " --mean 0.5,0.5", 2, "--mean"},
        {"no --image", kTiny, 2, "--image"},
    };
    for (const std::string command : {"trace", "report"})
        for (const BadTrace& c : cases)
            BOOST_TEST_CONTEXT(command << ": " << c.what) { check_trace_fails(*this, c, command); }
    check_trace_fails(*this, {"--values lots", tiny_image + " --values lots", 2, "lots"});
    // Several images: refused, with how to run them one by one.
    for (const std::string command : {"trace", "report", "attention"})
        BOOST_TEST_CONTEXT(command) {
            const RunResult r = run_vitrace(command + " " + kTiny + " --image " + quote(image) + " " + quote(image) +
                                            " -o " + quote(path("several.json")));
            check_error(r, 2, "--image takes one image, and got several");
            BOOST_CHECK_MESSAGE(r.err.find("for f in") != std::string::npos, r.err);
            BOOST_CHECK(!std::filesystem::exists(path("several.json")));
        }
    // The loop it suggests runs, one trace per image, named after the image.
    std::filesystem::create_directories(path("imgs"));
    std::filesystem::copy_file(image, path("imgs/a.png"));
    std::filesystem::copy_file(image, path("imgs/b c.png"));
    const RunResult r = run_vitrace("trace " + kTiny + " --image " + quote(path("imgs/a.png")) + " " +
                                    quote(path("imgs/b c.png")) + " -o " + quote(path("x.json")) + " -q");
    const auto at = r.err.find("for f in");
    BOOST_REQUIRE_MESSAGE(at != std::string::npos, r.err);
    std::string loop = r.err.substr(at);
    while (!loop.empty() && loop.back() == '\n') loop.pop_back();
    const std::string dir = std::filesystem::path(VITRACE_BINARY).parent_path().string();
    const vitrace::test::RunResult ran = vitrace::test::run("PATH=" + quote(dir) + ":\"$PATH\" bash -c " + quote(loop));
    BOOST_CHECK_MESSAGE(ran.exit_code == 0, loop << "\n" << ran.err);
    BOOST_CHECK(std::filesystem::exists(path("imgs/a.json")));
    BOOST_CHECK(std::filesystem::exists(path("imgs/b c.json")));
    check_trace_fails(*this, {"report has no --values", tiny_image + " --values full", 2, "vitrace report has no flag --values"},
                      "report");
}

BOOST_AUTO_TEST_CASE(unwritable_output) {
    const std::string args = "trace " + kTiny + " --image " + quote(image) + " -o ";
    const std::set<std::string> before = entries();

    BOOST_TEST_CONTEXT("missing directory") {
        check_error(run_vitrace(args + quote(path("no/such/dir/t.json"))), 6, "does not exist");
        BOOST_CHECK(entries() == before);
    }
    BOOST_TEST_CONTEXT("a directory") {
        check_error(run_vitrace(args + quote(dir.string())), 6, "directory");
        BOOST_CHECK(fs::is_directory(dir));
        BOOST_CHECK(entries() == before);
    }
    BOOST_TEST_CONTEXT("empty path") { check_error(run_vitrace(args + "''"), 6, "empty"); }
    BOOST_TEST_CONTEXT("/dev/full") {
        check_error(run_vitrace(args + "/dev/full"), 6, "/dev/full");
        struct stat st {};
        BOOST_REQUIRE(stat("/dev/full", &st) == 0);
        BOOST_CHECK_MESSAGE(S_ISCHR(st.st_mode), "/dev/full is no longer a character device");
    }
    BOOST_TEST_CONTEXT("-o - with standard output on /dev/full") {
        check_error(run_vitrace(args + "- >/dev/full"), 6, "writing failed");
    }
    BOOST_TEST_CONTEXT("read-only /proc") {
        // Root ignores file permissions, but nobody can create files in /proc.
        const std::string target = "/proc/vitrace-cli-test.json";
        check_error(run_vitrace(args + target), 6, target);
        BOOST_CHECK(!fs::exists(target));
    }
}

BOOST_AUTO_TEST_SUITE_END()

// Checkpoints traced without --model: the file says what model it holds.
BOOST_AUTO_TEST_SUITE(checkpoint_without_model)

BOOST_FIXTURE_TEST_CASE(a_timm_file_traces_and_inspects_without_model, Workdir) {
    write_bytes(path("vit.safetensors"), checkpoint_bytes({}));
    const RunResult r = run_vitrace("trace --weights " + quote(path("vit.safetensors")) + " --heads 2 --image " +
                                    quote(image) + " --values none -o " + quote(path("t.json")));
    BOOST_REQUIRE_MESSAGE(r.exit_code == 0, r.err);
    const json t = parse_json(read_bytes(path("t.json")), "the trace");
    BOOST_CHECK_EQUAL(t["model"]["weights_layout"], "timm");
    BOOST_CHECK_EQUAL(t["model"]["config"]["width"], 16);
    BOOST_CHECK_EQUAL(t["model"]["config"]["depth"], 2);
    BOOST_CHECK_EQUAL(t["model"]["config"]["heads"], 2);
    BOOST_CHECK_EQUAL(t["output"]["features"].size(), 16u);
    BOOST_CHECK_EQUAL(t["output"]["logits"].size(), (size_t)kTinyClasses);

    // The same weights under --model give the same numbers.
    const RunResult same = run_vitrace("trace " + kTiny + " --weights " + quote(path("vit.safetensors")) +
                                       " --image " + quote(image) + " --values none -o " + quote(path("m.json")));
    BOOST_REQUIRE_MESSAGE(same.exit_code == 0, same.err);
    BOOST_CHECK(parse_json(read_bytes(path("m.json")), "the trace")["output"]["logits"] == t["output"]["logits"]);

    const RunResult i = run_vitrace("inspect " + quote(path("vit.safetensors")) + " --json");
    BOOST_REQUIRE_MESSAGE(i.exit_code == 0, i.err);
    const json j = parse_json(i.out, "inspect --json");
    BOOST_CHECK_EQUAL(j["family"], "vit");
    BOOST_CHECK_EQUAL(j["layout"], "timm");
    BOOST_CHECK_EQUAL(j["params"], t["model"]["parameters"]);
}

BOOST_FIXTURE_TEST_CASE(checkpoints_that_cannot_be_read_get_one_error, Workdir) {
    const vitrace::Tensor t = vitrace::Tensor::from({2}, {1, 2});
    write_bytes(path("unknown.safetensors"), vitrace::make_safetensors({{"encoder.w", &t}, {"decoder.w", &t}}));
    // The tiny ViT's tensors with one of Hugging Face's names among them.
    write_bytes(path("mixed.safetensors"), checkpoint_bytes({}, "", {{"vit.embeddings.cls_token", &t}}));
    fs::create_directory(path("malformed"));
    write_bytes(path("malformed/model.safetensors"), checkpoint_bytes({}));
    write_bytes(path("malformed/config.json"), "{\"hidden_size\": 16,");
    fs::create_directory(path("contradicts"));
    write_bytes(path("contradicts/model.safetensors"), checkpoint_bytes({}));
    write_bytes(path("contradicts/config.json"), R"({"hidden_size": 32, "num_attention_heads": 2})");
    write_bytes(path("vit.safetensors"), checkpoint_bytes({}));
    write_bytes(path("three.txt"), "a\nb\nc\n");

    const std::string img = " --image " + quote(image);
    const std::vector<BadTrace> cases = {
        {"no model and no weights", img, 2, "--model or --weights is required"},
        {"no layout", "--weights " + quote(path("unknown.safetensors")) + img, 4, "matches no checkpoint layout"},
        {"mixed layouts", "--weights " + quote(path("mixed.safetensors")) + img, 4, "mixes the timm layout"},
        {"malformed config.json", "--weights " + quote(path("malformed")) + img, 4, "is not valid JSON"},
        {"config.json against the tensors", "--weights " + quote(path("contradicts")) + img, 4,
         "hidden_size 32, but the tensors give width 16"},
        {"heads that do not divide the width", "--weights " + quote(path("vit.safetensors")) + " --heads 3" + img, 5,
         "heads 3 do not divide width 16"},
        {"labels of another count", "--weights " + quote(path("vit.safetensors")) + " --heads 2 --labels " +
                                        quote(path("three.txt")) + img,
         5, "names 3 classes, but"},
    };
    for (const std::string command : {"trace", "report"})
        for (const BadTrace& c : cases)
            BOOST_TEST_CONTEXT(command << ": " << c.what) { check_trace_fails(*this, c, command); }
}

BOOST_AUTO_TEST_SUITE_END()

// The parts of vit-pytorch's and ml-cvnets' models, made with random weights
// from flags: each step is there with its op and shape, and model.config says so.
BOOST_AUTO_TEST_SUITE(codebase_parts)

BOOST_FIXTURE_TEST_CASE(vit_pytorch_parts_trace_with_their_steps, Workdir) {
    // 2 heads of 12 on a width of 16 (inner 24), patches in (p1 p2 c) order with LayerNorms,
    // no qkv bias, the mean of every token, SiLU, the final LayerNorm after pooling.
    const RunResult r = run_vitrace("trace " + kTiny + " --patch-order hwc --patch-norm --dim-head 12 --qkv-bias false "
                                    "--pool mean_all --act silu --fc-norm true --image " + quote(image) +
                                    " --values summary -o " + quote(path("t.json")));
    BOOST_REQUIRE_MESSAGE(r.exit_code == 0, r.err);
    const json t = parse_json(read_bytes(path("t.json")), "the trace");
    const json& cfg = t["model"]["config"];
    BOOST_CHECK_EQUAL(cfg["patch_order"], "hwc");
    BOOST_CHECK_EQUAL(cfg["patch_norm"], true);
    BOOST_CHECK_EQUAL(cfg["dim_head"], 12);
    BOOST_CHECK_EQUAL(cfg["pool"], "mean_all");
    BOOST_CHECK_EQUAL(cfg["act"], "silu");
    BOOST_CHECK_EQUAL(cfg["fc_norm"], true);
    BOOST_CHECK_EQUAL(cfg["qkv_bias"], false);
    auto expect = [&](const std::string& name, const std::string& op, const json& shape) {
        const json* s = find_step(t, name);
        BOOST_REQUIRE_MESSAGE(s, "no step " << name);
        BOOST_CHECK_EQUAL((*s)["op"], op);
        BOOST_CHECK_MESSAGE((*s)["shape"] == shape, name << ": shape " << (*s)["shape"] << ", expected " << shape);
    };
    expect("patch_embed.patchify", "patchify_hwc", {16, 192});
    expect("patch_embed.norm_in", "layernorm", {16, 192});
    expect("patch_embed.proj", "linear", {16, 16});
    expect("patch_embed.norm", "layernorm", {16, 16});
    expect("blocks.0.attn.qkv", "linear", {17, 72});
    expect("blocks.0.attn.split_heads", "split_heads", {3, 2, 17, 12});
    expect("blocks.0.attn.merge_heads", "merge_heads", {17, 24});
    expect("blocks.0.attn.proj", "linear", {17, 16});
    expect("blocks.1.mlp.act", "silu", {17, 64});
    expect("pool", "pool_mean_all", {16});
    expect("fc_norm", "layernorm", {16});
    BOOST_CHECK(find_step(t, "norm") == nullptr);
    // qkv: N · 3·inner · C = 17 · 72 · 16 multiply-adds; proj: N · C · inner = 17 · 16 · 24
    BOOST_CHECK_EQUAL((*find_step(t, "blocks.0.attn.qkv"))["macs"], 17 * 72 * 16);
    BOOST_CHECK_EQUAL((*find_step(t, "blocks.0.attn.proj"))["macs"], 17 * 16 * 24);
    BOOST_CHECK_EQUAL((*find_step(t, "blocks.0.attn.qkv"))["dims"], json({"N", "3inner"}));
}

BOOST_FIXTURE_TEST_CASE(one_head_without_proj_and_the_conv_stem, Workdir) {
    // vit-pytorch's 1 head of dim_head = width has no to_out; ml-cvnets' conv stem makes 16-pixel patches.
    const RunResult r = run_vitrace("trace --model vit_tiny_patch16_224 --image-size 32 --patch 16 --width 16 --depth 1 "
                                    "--heads 1 --classes 5 --attn-proj false --conv-stem --act relu --image " +
                                    quote(image) + " --values summary -o " + quote(path("t.json")));
    BOOST_REQUIRE_MESSAGE(r.exit_code == 0, r.err);
    const json t = parse_json(read_bytes(path("t.json")), "the trace");
    BOOST_CHECK(find_step(t, "blocks.0.attn.proj") == nullptr);
    BOOST_CHECK(find_step(t, "blocks.0.attn.merge_heads") != nullptr);
    // 32 px: stem 0 (4x4, stride 4, padding 1) gives 8x8 = 64 pixels of C0 = max(32, 16 / 4) = 32
    // channels, stem 1 (2x2, stride 2) 4x4 = 16, the proj (2x2, stride 2) 2x2 = 4 patches.
    const std::vector<std::pair<std::string, json>> shapes = {
        {"patch_embed.stem.0.patchify", {64, 48}}, {"patch_embed.stem.0.conv", {64, 32}},
        {"patch_embed.stem.0.bn", {64, 32}},       {"patch_embed.stem.0.act", {64, 32}},
        {"patch_embed.stem.1.patchify", {16, 128}}, {"patch_embed.stem.1.conv", {16, 32}},
        {"patch_embed.stem.1.bn", {16, 32}},       {"patch_embed.stem.1.act", {16, 32}},
        {"patch_embed.patchify", {4, 128}},        {"patch_embed.proj", {4, 16}},
    };
    for (const auto& [name, shape] : shapes) {
        const json* s = find_step(t, name);
        BOOST_REQUIRE_MESSAGE(s, "no step " << name);
        BOOST_CHECK_MESSAGE((*s)["shape"] == shape, name << ": shape " << (*s)["shape"] << ", expected " << shape);
    }
    BOOST_CHECK_EQUAL((*find_step(t, "patch_embed.stem.0.act"))["op"], "relu");
    BOOST_CHECK_EQUAL((*find_step(t, "patch_embed.stem.0.bn"))["op"], "batchnorm");
    BOOST_CHECK_EQUAL(t["model"]["config"]["conv_stem"], true);
    BOOST_CHECK_EQUAL(t["model"]["config"]["attn_proj"], false);
}

BOOST_FIXTURE_TEST_CASE(impossible_parts_are_refused, Workdir) {
    const std::string img = " --image " + quote(image);
    const std::vector<BadTrace> cases = {
        {"no proj but heads x dim_head is not the width", kTiny + " --dim-head 4 --attn-proj false" + img, 5,
         "without attn.proj the heads must give back the width"},
        {"a conv stem with another patch", kTiny + " --conv-stem" + img, 5, "16-pixel patches"},
        {"an unknown patch order", kTiny + " --patch-order cpp" + img, 2, "expected one of chw, hwc"},
        {"an unknown activation", kTiny + " --act tanh" + img, 2, "expected one of gelu, silu, swish, relu"},
        {"an unknown pooling", kTiny + " --pool max" + img, 2, "mean_all"},
    };
    for (const BadTrace& c : cases)
        BOOST_TEST_CONTEXT(c.what) { check_trace_fails(*this, c); }
}

BOOST_AUTO_TEST_SUITE_END()

// vitrace report and compare --html: one self-contained page, or an error and no file.
BOOST_FIXTURE_TEST_SUITE(report, Workdir)

// The JSON that a page embeds.
json page_data(const std::string& html) {
    const std::string open = "<script id=\"vitrace-data\" type=\"application/json\">";
    const size_t begin = html.find(open);
    BOOST_REQUIRE_MESSAGE(begin != std::string::npos, "the page has no data element");
    const size_t end = html.find("</script>", begin);
    BOOST_REQUIRE(end != std::string::npos);
    return parse_json(html.substr(begin + open.size(), end - begin - open.size()), "the page's data");
}

// Nothing in the page is fetched: no address with a scheme other than data: in
// src, href or url(), and no script or style element that points elsewhere.
void check_self_contained(const std::string& html) {
    for (const std::string needle : {"src=\"http", "href=\"http", "url(http", "src=\"//", "href=\"//", "url(//",
                                     "@import", "<link rel=\"stylesheet\""})
        BOOST_CHECK_MESSAGE(html.find(needle) == std::string::npos, "the page refers to an outside resource: " << needle);
}

BOOST_AUTO_TEST_CASE(writes_one_self_contained_page) {
    // A class name that would end the data's <script> element if written as it is.
    const std::string labels = path("labels.txt");
    write_bytes(labels, "</script><b>zero\none\ntwo\nthree\nfour\n");
    const std::string out = path("r.html");
    const RunResult r = run_vitrace("report " + kTiny + " --image " + quote(image) + " --labels " + quote(labels) +
                                    " -o " + quote(out));
    require_success(r);
    BOOST_CHECK_MESSAGE(r.out.find("report written to " + out) != std::string::npos, r.out);
    BOOST_CHECK(entries() == (std::set<std::string>{"image.png", "labels.txt", "r.html"}));
    const std::string html = read_bytes(out);
    check_self_contained(html);
    BOOST_CHECK(html.find("/*@VITRACE_") == std::string::npos);
    const json d = page_data(html);
    BOOST_CHECK_EQUAL(d["format"], "vitrace.report/1");
    BOOST_CHECK_EQUAL(d["kind"], "run");
    BOOST_CHECK_EQUAL(d["model"]["config"]["width"], 16);
    BOOST_CHECK_EQUAL(d["attention"]["kind"], "global");
    BOOST_CHECK_EQUAL(d["attention"]["layers"].size(), 2u);
    bool escaped = false;
    for (const json& t : d["output"]["top5"]) escaped |= t["label"] == "</script><b>zero";
    BOOST_CHECK_MESSAGE(escaped, "the label with </script> did not come back whole: " << d["output"]["top5"].dump());
    // Every step, with its source and timm line.
    const RunResult t = run_vitrace("trace " + kTiny + " --image " + quote(image) + " -o - --values none");
    require_success(t);
    const json trace = parse_json(t.out, "trace");
    BOOST_REQUIRE_EQUAL(d["steps"].size(), trace["steps"].size());
    for (size_t i = 0; i < d["steps"].size(); i++) {
        const json& s = d["steps"][i];
        BOOST_CHECK_EQUAL(s["name"], trace["steps"][i]["name"]);
        BOOST_CHECK_MESSAGE(s["source"].is_object(), s["name"] << " has no source");
        BOOST_CHECK_MESSAGE(s["timm"].is_object(), s["name"] << " has no timm line");
    }
    // The source quoted for blocks.0.attn.softmax is the function that records it, and its line is that record call.
    for (const json& s : d["steps"]) {
        if (s["name"] != "blocks.0.attn.softmax") continue;
        const json& f = d["sources"][s["source"]["function"].get<size_t>()];
        BOOST_CHECK_EQUAL(f["file"], "src/core/attention.cpp");
        BOOST_CHECK_EQUAL(f["function"], "multi_head_attention");
        const std::string text = f["text"];
        std::vector<std::string> lines = lines_of(text);
        const int at = s["source"]["line"].get<int>() - f["first_line"].get<int>();
        BOOST_REQUIRE(at >= 0 && at < (int)lines.size());
        BOOST_CHECK_MESSAGE(lines[at].find("Role::Softmax") != std::string::npos, "line " << at << ": " << lines[at]);
    }
}

BOOST_AUTO_TEST_CASE(report_needs_an_output_and_fails_cleanly) {
    check_error(run_vitrace("report " + kTiny + " --image " + quote(image)), 2, "--output is required");
    const std::string args = "report " + kTiny + " --image " + quote(image) + " -o ";
    const std::set<std::string> before = entries();
    check_error(run_vitrace(args + quote(path("no/such/dir/r.html"))), 6, "does not exist");
    check_error(run_vitrace(args + quote(dir.string())), 6, "directory");
    check_error(run_vitrace(args + "/dev/full"), 6, "/dev/full");
    check_error(run_vitrace(args + "/proc/vitrace-cli-test.html"), 6, "/proc/vitrace-cli-test.html");
    BOOST_CHECK(entries() == before);
    // A --steps pattern that matches nothing warns, and the page is still written.
    const RunResult r = run_vitrace(args + quote(path("r.html")) + " --steps 'blocks.9.*'");
    require_success(r);
    BOOST_CHECK_MESSAGE(r.err.find("'blocks.9.*' matches no step") != std::string::npos, r.err);
}

BOOST_AUTO_TEST_CASE(steps_carry_their_full_values_when_asked) {
    const std::string out = path("r.html");
    // blocks.0.mlp.fc1 of vit_tiny at 224 px holds 197 x 768 values: pooled unless asked for.
    const std::string args = "report --model vit_tiny_patch16_224 --depth 1 --image " + quote(image) + " -q -o " + quote(out);
    require_success(run_vitrace(args));
    auto fc1 = [&] {
        const json d = page_data(read_bytes(out));
        for (const json& s : d["steps"])
            if (s["name"] == "blocks.0.mlp.fc1") return s["values"];
        return json();
    };
    BOOST_CHECK_EQUAL(fc1()["kind"], "pooled");
    BOOST_CHECK_EQUAL(fc1()["pool"], json::parse("[4, 4]"));
    require_success(run_vitrace(args + " --steps 'blocks.0.mlp.fc*'"));
    BOOST_CHECK_EQUAL(fc1()["kind"], "full");
    BOOST_CHECK_EQUAL(fc1()["blob"]["shape"], json::parse("[197, 768]"));
}

BOOST_AUTO_TEST_CASE(compare_writes_the_cost_panel) {
    const std::string out = path("cost.html");
    const RunResult r = run_vitrace("compare --html " + quote(out));
    require_success(r);
    const std::string html = read_bytes(out);
    check_self_contained(html);
    const json d = page_data(html);
    BOOST_CHECK_EQUAL(d["kind"], "cost");
    BOOST_REQUIRE_EQUAL(d["cost"]["models"].size(), 2u);
    BOOST_CHECK_EQUAL(d["cost"]["models"][0]["model"], "vit_base_patch16_224");
    BOOST_CHECK_EQUAL(d["cost"]["models"][1]["model"], "swin_tiny_patch4_window7_224");
    // Swin-T runs at 224, 448, 672 and 896 (its every stage's grid must divide by 7); ViT-B/16 at every 16 px.
    std::vector<int> sizes;
    for (const json& p : d["cost"]["growth"][1]["points"]) sizes.push_back(p["image_size"]);
    BOOST_CHECK(sizes == (std::vector<int>{224, 448, 672, 896}));
    BOOST_CHECK_EQUAL(d["cost"]["growth"][0]["points"].size(), 43u);
    check_error(run_vitrace("compare --html " + quote(path("no/such/dir/c.html"))), 6, "does not exist");
}

BOOST_AUTO_TEST_SUITE_END()

// trace --tensors and vitrace diff: dumps that hold what the JSON holds, and a
// diff that finds the step that was changed and says why it might have been.
BOOST_FIXTURE_TEST_SUITE(diff, Workdir)

using Values = std::map<std::string, std::vector<float>>;

// A copy of the dump `from` at `to`, with `change` applied to its values first.
// unseen: the producer's list of steps it could not record, as the dump's metadata holds it ("": none).
void rewrite_dump(const std::string& from, const std::string& to, const std::function<void(Values&)>& change,
                  const std::string& unseen = "") {
    const vitrace::SafetensorsFile f = vitrace::SafetensorsFile::open(from);
    Values v;
    for (const vitrace::TensorEntry& e : f.tensors()) {
        v[e.name].resize(numel(json(e.shape)));
        f.read_floats(e, v[e.name].data());
    }
    change(v);
    std::vector<vitrace::TensorEntry> entries;
    std::string data;
    for (const vitrace::TensorEntry& e : f.tensors()) {
        if (!v.count(e.name)) continue;  // a step the change removed
        const std::vector<float>& x = v[e.name];
        entries.push_back({e.name, vitrace::DType::F32, e.shape, data.size(), data.size() + x.size() * 4});
        data.append(reinterpret_cast<const char*>(x.data()), x.size() * 4);
    }
    std::map<std::string, std::string> meta = f.metadata();
    json steps = json::array();
    for (const json& s : json::parse(meta["steps"]))
        if (v.count(s["name"])) steps.push_back(s);
    meta["steps"] = steps.dump();
    if (!unseen.empty()) meta["unseen"] = unseen;
    write_bytes(to, vitrace::safetensors_header(entries, meta) + data);
}

struct Dumps : Workdir {
    std::string json_trace = path("a.json"), dump = path("a.safetensors");
    Dumps() {
        require_success(run_vitrace("trace " + kTiny + " --image " + quote(image) + " --values full -q -o " +
                                    quote(json_trace) + " --tensors " + quote(dump)));
    }
    RunResult diff(const std::string& b, const std::string& more = "") {
        return run_vitrace("diff " + quote(dump) + " " + quote(b) + " --json " + quote(path("d.json")) + more);
    }
    json diff_json() { return parse_json(read_bytes(path("d.json")), "diff --json"); }
};

BOOST_FIXTURE_TEST_CASE(a_dump_holds_the_json_traces_full_values, Dumps) {
    const json t = parse_json(read_bytes(json_trace), "trace");
    const vitrace::SafetensorsFile f = vitrace::SafetensorsFile::open(dump);
    BOOST_CHECK_EQUAL(f.metadata().at("format"), "vitrace.tensors/1");
    BOOST_CHECK_EQUAL(f.metadata().at("trace_format"), "vitrace.trace/1");
    BOOST_CHECK_EQUAL(json::parse(f.metadata().at("model"))["config"]["width"], 16);
    const json steps = json::parse(f.metadata().at("steps"));
    BOOST_REQUIRE_EQUAL(f.tensors().size(), t["steps"].size());
    BOOST_REQUIRE_EQUAL(steps.size(), t["steps"].size());
    for (size_t i = 0; i < t["steps"].size(); i++) {
        const json& s = t["steps"][i];
        const vitrace::TensorEntry& e = f.tensors()[i];
        BOOST_TEST_CONTEXT(s["name"]) {
            BOOST_CHECK_EQUAL(e.name, s["name"]);
            BOOST_CHECK_EQUAL(steps[i]["name"], s["name"]);
            BOOST_CHECK_EQUAL(steps[i]["op"], s["op"]);
            BOOST_CHECK_EQUAL(steps[i]["dims"], s["dims"]);
            BOOST_CHECK(e.dtype == vitrace::DType::F32);
            BOOST_CHECK_EQUAL(json(e.shape), s["shape"]);
            std::vector<float> x(numel(s["shape"]));
            f.read_floats(e, x.data());
            BOOST_CHECK(x == s["values"].get<std::vector<float>>());
        }
    }
    // Any --values mode: the dump holds everything even when the JSON holds nothing.
    require_success(run_vitrace("trace " + kTiny + " --image " + quote(image) + " --values none -q --tensors " +
                                quote(path("b.safetensors"))));
    BOOST_CHECK(read_bytes(path("b.safetensors")) == read_bytes(dump));
}

BOOST_FIXTURE_TEST_CASE(identical_traces_agree, Dumps) {
    const RunResult r = run_vitrace("diff " + quote(json_trace) + " " + quote(dump));
    BOOST_CHECK_EQUAL(r.exit_code, 0);
    BOOST_CHECK_MESSAGE(r.out.find("all within") != std::string::npos, r.out);
    require_success(diff(dump));
    const json d = diff_json();
    BOOST_CHECK(d["first_divergence"].is_null());
    BOOST_CHECK_EQUAL(d["tolerance"], 1e-4);
    for (const json& s : d["steps"]) BOOST_CHECK(s["within"] == true && s["max_abs"] == 0.0 && s["max_rel"] == 0.0);
}

BOOST_FIXTURE_TEST_CASE(a_changed_step_is_the_first_divergence, Dumps) {
    // blocks.1.attn.proj gets 1e-3 added at [N=5, C=7]; the steps after it are left as they were.
    rewrite_dump(dump, path("b.safetensors"), [](Values& v) { v["blocks.1.attn.proj"][5 * 16 + 7] += 1e-3f; });
    const RunResult r = diff(path("b.safetensors"));
    BOOST_CHECK_EQUAL(r.exit_code, 1);
    BOOST_CHECK_MESSAGE(r.out.find(">>  blocks.1.attn.proj") != std::string::npos, r.out);
    BOOST_CHECK_MESSAGE(r.out.find("first divergence: blocks.1.attn.proj (linear)") != std::string::npos, r.out);
    BOOST_CHECK_MESSAGE(r.out.find("[N=5, C=7]") != std::string::npos, r.out);
    const json d = diff_json();
    BOOST_CHECK_EQUAL(d["first_divergence"]["name"], "blocks.1.attn.proj");
    BOOST_CHECK_EQUAL(d["first_divergence"]["op"], "linear");
    BOOST_CHECK_CLOSE(d["first_divergence"]["max_abs"].get<double>(), 1e-3, 1.0);
    BOOST_CHECK_EQUAL(d["first_divergence"]["index"], json::parse("[5, 7]"));
    int beyond = 0;
    for (const json& s : d["steps"]) beyond += s["within"] == false;
    BOOST_CHECK_EQUAL(beyond, 1);
    // Under a looser tolerance the same change agrees.
    BOOST_CHECK_EQUAL(diff(path("b.safetensors"), " --tol 2e-3").exit_code, 0);
    // A step B lacks is listed, not counted.
    rewrite_dump(dump, path("c.safetensors"), [](Values& v) { v.erase("blocks.0.attn.scores"); });
    const RunResult missing = diff(path("c.safetensors"));
    BOOST_CHECK_EQUAL(missing.exit_code, 0);
    BOOST_CHECK_MESSAGE(missing.out.find("only in A") != std::string::npos, missing.out);
    BOOST_CHECK_EQUAL(diff_json()["only_in_a"], json::parse("[\"blocks.0.attn.scores\"]"));
}

// Each planted cause: the first divergence carries its hint.
BOOST_FIXTURE_TEST_CASE(each_hint_fires_on_its_planted_cause, Dumps) {
    const int C = 16, N = 17, heads = 2, hd = 8, p = 8;
    struct Plant {
        std::string what, step;
        std::function<void(Values&)> change;
        std::string hint;
    };
    const std::vector<Plant> plants = {
        {"q and k swapped", "blocks.0.attn.split_heads",
         [&](Values& v) {
             std::vector<float>& x = v["blocks.0.attn.split_heads"];  // [3, heads, N, hd]
             std::swap_ranges(x.begin(), x.begin() + heads * N * hd, x.begin() + heads * N * hd);
         },
         "B's q, k, v are A's k, q, v"},
        {"patches flattened as (p, p, c)", "patch_embed.patchify",
         [&](Values& v) {
             std::vector<float>& x = v["patch_embed.patchify"];  // [n, 3·p·p]
             const std::vector<float> a = x;
             for (int t = 0; t < 16; t++)
                 for (int c = 0; c < 3; c++)
                     for (int i = 0; i < p * p; i++) x[t * 192 + i * 3 + c] = a[t * 192 + c * p * p + i];
         },
         "B as (p, p, c)"},
        {"GELU's tanh form", "blocks.0.mlp.act",
         [&](Values& v) {
             const std::vector<float>& in = v["blocks.0.mlp.fc1"];
             std::vector<float>& y = v["blocks.0.mlp.act"];
             for (size_t i = 0; i < y.size(); i++) {
                 const double x = in[i];
                 y[i] = (float)(0.5 * x * (1 + std::tanh(std::sqrt(2 / M_PI) * (x + 0.044715 * x * x * x))));
             }
         },
         "B computes GELU's tanh approximation"},
        {"a layernorm", "blocks.0.norm1", [&](Values& v) { v["blocks.0.norm1"][3] *= 1.01f; }, "eps"},
        {"a softmax", "blocks.1.attn.softmax", [&](Values& v) { v["blocks.1.attn.softmax"][0] += 0.01f; }, "mask value"},
        {"a scale applied twice", "blocks.0.attn.scale",
         [&](Values& v) {
             for (float& x : v["blocks.0.attn.scale"]) x /= std::sqrt(8.0f);
         },
         "check the scale"},
        {"a cause within the tolerance, growing", "blocks.0.attn.qkv",
         [&](Values& v) {
             v["pos_embed"][0] += 1e-6f;       // rounding
             v["blocks.0.norm1"][0] += 5e-5f;  // 50 times that, still within 1e-4
             v["blocks.0.attn.qkv"][0] += 5e-4f;
         },
         "grows most at blocks.0.norm1 (layernorm), still within the tolerance"},
        {"fused attention in B", "blocks.1.attn.weighted_sum",
         [&](Values& v) {
             for (const char* s : {"blocks.1.attn.scores", "blocks.1.attn.scale", "blocks.1.attn.softmax"}) v.erase(s);
             v["blocks.1.attn.weighted_sum"][0] += 0.01f;
         },
         "B lacks the steps just before it (blocks.1.attn.scores, blocks.1.attn.scale, blocks.1.attn.softmax)"},
    };
    for (const Plant& plant : plants)
        BOOST_TEST_CONTEXT(plant.what) {
            rewrite_dump(dump, path("b.safetensors"), plant.change);
            BOOST_CHECK_EQUAL(diff(path("b.safetensors")).exit_code, 1);
            const json d = diff_json();
            BOOST_CHECK_EQUAL(d["first_divergence"]["name"], plant.step);
            const std::string hint = d["first_divergence"]["hint"].is_string() ? d["first_divergence"]["hint"] : "";
            BOOST_CHECK_MESSAGE(hint.find(plant.hint) != std::string::npos, "hint: " << hint);
        }
    // When B's producer says why it lacks those steps, the hint gives that
    // reason instead of blaming fused attention.
    rewrite_dump(
        dump, path("b.safetensors"),
        [](Values& v) {
            for (const char* s : {"blocks.1.attn.scores", "blocks.1.attn.scale"}) v.erase(s);
            v["blocks.1.attn.softmax"][0] += 0.01f;
        },
        R"([{"name": "blocks.*.attn.sc*", "why": "computed inline, no module to hook"}])");
    BOOST_CHECK_EQUAL(diff(path("b.safetensors")).exit_code, 1);
    {
        const json d = diff_json();
        const std::string hint = d["first_divergence"]["hint"].is_string() ? d["first_divergence"]["hint"] : "";
        BOOST_CHECK_MESSAGE(hint.find("B lacks the steps just before it (blocks.1.attn.scores, blocks.1.attn.scale): its "
                                      "producer could not record them (computed inline, no module to hook)") !=
                                std::string::npos,
                            "hint: " << hint);
        BOOST_CHECK_MESSAGE(hint.find("fused") == std::string::npos, "hint: " << hint);
    }
    (void)C;
    // pos_embed.resample: a checkpoint of 32 px run at 48.
    write_bytes(path("vit.safetensors"), checkpoint_bytes({}));
    const std::string resampled = "trace --weights " + quote(path("vit.safetensors")) + " --heads 2 --image-size 48 --image " +
                                  quote(image) + " -q --tensors ";
    require_success(run_vitrace(resampled + quote(path("r.safetensors"))));
    rewrite_dump(path("r.safetensors"), path("b.safetensors"), [](Values& v) { v["pos_embed.resample"][0] += 0.01f; });
    BOOST_CHECK_EQUAL(run_vitrace("diff " + quote(path("r.safetensors")) + " " + quote(path("b.safetensors")) +
                                  " --json " + quote(path("d.json"))).exit_code, 1);
    const json d = diff_json();
    BOOST_CHECK_EQUAL(d["first_divergence"]["name"], "pos_embed.resample");
    BOOST_CHECK_MESSAGE(d["first_divergence"]["hint"].get<std::string>().find("antialias") != std::string::npos,
                        d["first_divergence"]["hint"]);
}

BOOST_FIXTURE_TEST_CASE(bad_input, Dumps) {
    const std::string png = png_bytes(kImageW, kImageH);
    const std::string d = read_bytes(dump);
    write_bytes(path("truncated.safetensors"), d.substr(0, d.size() / 2));
    write_bytes(path("plain.safetensors"), checkpoint_bytes({}));
    write_bytes(path("notes.txt"), "not a trace\n");
    require_success(run_vitrace("trace --model swin_shapes --image " + quote(image) + " -q --tensors " +
                                quote(path("swin.safetensors"))));
    require_success(run_vitrace("trace " + kTiny + " --image " + quote(image) + " --values none -q -o " +
                                quote(path("novalues.json"))));
    const std::set<std::string> before = entries();
    auto diff_to = [&](const std::string& b, const std::string& more = "") {
        return run_vitrace("diff " + quote(dump) + " " + quote(b) + more + " --json " + quote(path("out.json")));
    };
    check_error(diff_to(path("swin.safetensors")), 5, "a diff needs two traces of the same model");
    check_error(diff_to(path("truncated.safetensors")), 3, "truncated.safetensors");
    check_error(diff_to(path("plain.safetensors")), 3, "without vitrace's metadata");
    check_error(diff_to(path("notes.txt")), 3, "notes.txt");
    check_error(diff_to(path("missing.safetensors")), 3, "cannot open it");
    check_error(diff_to(path("novalues.json")), 3, "no step holds its full values");
    for (const std::string tol : {"0", "-1", "abc", "1e-4x", "inf"})
        BOOST_TEST_CONTEXT("--tol " << tol) { check_error(diff_to(dump, " --tol " + tol), 2, "--tol: expected a positive number"); }
    check_error(run_vitrace("diff " + quote(dump)), 2, "B is required");
    BOOST_CHECK(entries() == before);  // no --json file from a failed diff
    check_error(run_vitrace("trace " + kTiny + " --image " + quote(image) + " --tensors " +
                            quote(path("no/such/dir/t.safetensors"))), 6, "does not exist");
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(swin)

// A Swin small enough to read: 16x16 image, patch 2, window 4 (as the golden fixture swin_shift).
const std::string kSmallSwin =
    "--model swin_tiny_patch4_window7_224 --image-size 16 --patch 2 --width 8 --depths 2,2 --heads 2,2 --window 4 "
    "--classes 5";

vitrace::ConfigOverrides small_swin_overrides() {
    vitrace::ConfigOverrides o;
    o["--image-size"] = vitrace::FlagValue{16};
    o["--patch"] = vitrace::FlagValue{2};
    o["--width"] = vitrace::FlagValue{8};
    o["--depth"] = vitrace::FlagValue{2, 2};
    o["--heads"] = vitrace::FlagValue{2, 2};
    o["--window"] = vitrace::FlagValue{4};
    o["--classes"] = vitrace::FlagValue{5};
    return o;
}

BOOST_FIXTURE_TEST_CASE(trace_names_the_window_axes, Workdir) {
    const std::string out = path("swin.json");
    require_success(run_vitrace("trace " + kSmallSwin + " --image " + quote(image) + " -o " + quote(out) + " -q"));
    const json t = parse_json(read_bytes(out), out);
    BOOST_CHECK_EQUAL(t["model"]["family"], "swin");
    BOOST_CHECK_EQUAL(t["model"]["config"]["stages"].size(), 2u);
    BOOST_CHECK_EQUAL(t["model"]["config"]["stages"][0]["shift"], 2);
    BOOST_CHECK_EQUAL(t["model"]["config"]["stages"][1]["shift"], 0);  // a 4x4 grid is one window: no shift
    const json* mask = find_step(t, "layers.0.blocks.1.attn_mask");
    BOOST_REQUIRE(mask);
    BOOST_CHECK((*mask)["dims"] == json({"windows", "T_q", "T_k"}));
    BOOST_CHECK((*mask)["shape"] == json({4, 16, 16}));
    BOOST_CHECK(find_step(t, "layers.1.blocks.1.attn_mask") == nullptr);
    const json* index = find_step(t, "layers.0.blocks.0.attn.relative_position_index");
    BOOST_REQUIRE(index);
    BOOST_CHECK((*index)["shape"] == json({16, 16}));
    BOOST_CHECK(find_step(t, "layers.1.downsample.reduction") != nullptr);
    BOOST_CHECK_EQUAL(t["output"]["logits"].size(), 5u);
}

BOOST_FIXTURE_TEST_CASE(both_checkpoint_layouts_load, Workdir) {
    const std::string golden = std::string(VITRACE_TEST_DATA) + "/golden/";
    for (const std::string layout : {"timm", "microsoft"}) {
        const std::string weights = golden + (layout == "timm" ? "swin_shift.safetensors" : "swin_shift.microsoft.safetensors");
        const std::string out = path(layout + ".json");
        require_success(run_vitrace("trace " + kSmallSwin + " --image " + quote(image) + " --weights " + quote(weights) +
                                    " -o " + quote(out) + " -q"));
        const json t = parse_json(read_bytes(out), out);
        BOOST_CHECK_EQUAL(t["model"]["weights_layout"], layout);
        BOOST_CHECK_EQUAL(t["model"]["trained"], true);
    }
}

BOOST_FIXTURE_TEST_CASE(weights_of_the_other_family_are_refused, Workdir) {
    write_bytes(path("swin.safetensors"), checkpoint_bytes(small_swin_overrides(), "swin_tiny_patch4_window7_224"));
    write_bytes(path("vit.safetensors"), checkpoint_bytes({}));
    const std::string img = " --image " + quote(image);
    const std::vector<BadTrace> cases = {
        {"Swin weights for a ViT", kTiny + img + " --weights " + quote(path("swin.safetensors")), 4, "holds Swin weights"},
        {"ViT weights for a Swin", kSmallSwin + img + " --weights " + quote(path("vit.safetensors")), 4, "holds ViT weights"},
    };
    for (const std::string command : {"trace", "report"})
        for (const BadTrace& c : cases)
            BOOST_TEST_CONTEXT(command << ": " << c.what) { check_trace_fails(*this, c, command); }
}

BOOST_FIXTURE_TEST_CASE(sizes_that_do_not_fit_a_stage_are_refused, Workdir) {
    const std::string swin_tiny = "--model swin_tiny_patch4_window7_224 --image " + quote(image);
    const std::vector<BadTrace> cases = {
        {"window 8 at 224", swin_tiny + " --window 8", 5,
         "stage 1 (layers.1)'s 28x28 grid is not divisible by window 8; swin_tiny_patch4_window7_224 with these "
         "settings runs at 128 or 256"},
        {"image 196: odd grid", swin_tiny + " --image-size 196", 5,
         "stage 1 (layers.1)'s patch merging halves the 49x49 grid of stage 0, which is odd; "
         "swin_tiny_patch4_window7_224 runs at 224, the nearest image size that fits"},
        // every stage counts: 384 fails stage 0's window, 392 stage 2's merge, 336 stage 3's merge
        {"image 384", swin_tiny + " --image-size 384", 5, "swin_tiny_patch4_window7_224 runs at 224 or 448"},
        {"image 392", swin_tiny + " --image-size 392", 5, "stage 2 (layers.2)'s patch merging"},
        {"image 336", swin_tiny + " --image-size 336", 5, "stage 3 (layers.3)'s patch merging"},
        {"heads 5 at stage 0", swin_tiny + " --heads 5,6,12,24", 5, "heads 5 do not divide its 96 channels"},
        {"pool token", swin_tiny + " --pool token", 5, "no cls token"},
    };
    for (const std::string command : {"trace", "report"})
        for (const BadTrace& c : cases)
            BOOST_TEST_CONTEXT(command << ": " << c.what) { check_trace_fails(*this, c, command); }
}

// Whole-number tensors print as integers: the relative position index of a
// 4x4 window, row T_q=0 against the formula (dy + M - 1)(2M - 1) + (dx + M - 1),
// dy = y_q - y_k, dx = x_q - x_k, worked by hand for query (0, 0).
BOOST_FIXTURE_TEST_CASE(whole_numbers_print_as_integers, Workdir) {
    const RunResult r = run_vitrace("trace --model swin_shapes --image " + quote(image) +
                                    " --show 'layers.0.blocks.0.attn.relative_position_index[0]'");
    require_success(r);
    BOOST_CHECK_MESSAGE(r.out.find("[T_q=16, T_k=16]  min 0  max 48  mean 24.0000") != std::string::npos ||
                            r.out.find("[T_q=16, T_k=16]\n  min 0  max 48  mean 24.0000") != std::string::npos,
                        r.out);
    std::string expected;
    for (int k = 0; k < 16; k++) {
        expected += ' ';
        expected += std::to_string((0 - k / 4 + 3) * 7 + (0 - k % 4 + 3));
    }
    std::string printed;
    for (const std::string& line : lines_of(r.out)) {
        if (line.find_first_not_of(" 0123456789") != std::string::npos || line.find_first_of("0123456789") == std::string::npos)
            continue;
        std::istringstream words(line);
        for (std::string w; words >> w;) printed += " " + w;
    }
    BOOST_CHECK_EQUAL(printed, expected);
}

BOOST_AUTO_TEST_CASE(shapes_of_swin_large) {
    const RunResult r = run_vitrace("shapes --model swin_large_patch4_window7_224");
    require_success(r);
    BOOST_CHECK(r.out.find("layers.2.blocks.17.attn.softmax") != std::string::npos);
    BOOST_CHECK(r.out.find("[windows=4, heads=24, T_q=49, T_k=49]") != std::string::npos);
    BOOST_CHECK(r.out.find("layers.3.blocks.1.attn_mask") == std::string::npos);  // 7x7 grid: no shift
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_FIXTURE_TEST_CASE(compare_writes_both_totals, Workdir) {
    const std::string out = path("compare.json");
    const RunResult r = run_vitrace("compare --vit vit_base_patch16_224 --swin swin_tiny_patch4_window7_224 --json " +
                                    quote(out));
    require_success(r);
    BOOST_CHECK(r.out.find("blocks.0-11") != std::string::npos);
    BOOST_CHECK(r.out.find("896x896") != std::string::npos);
    const json j = parse_json(read_bytes(out), out);
    BOOST_CHECK_CLOSE(j["vit"]["total_macs"].get<double>() / 1e9, 17.56, 1.0);
    BOOST_CHECK_CLOSE(j["swin"]["total_macs"].get<double>() / 1e9, 4.49, 1.0);
    BOOST_CHECK_EQUAL(j["vit"]["layers"].size(), 12u);
    BOOST_CHECK_EQUAL(j["swin"]["layers"].size(), 4u);
    BOOST_CHECK_EQUAL(j["scaling"].size(), 3u);
    check_error(run_vitrace("compare --vit swin_tiny_patch4_window7_224"), 2, "not a ViT model");
    check_error(run_vitrace("compare --image-size 100"), 5, "not divisible");
    // The whole constraint of both models: which fails, sizes that fit both, a Swin made for the size.
    const RunResult at384 = run_vitrace("compare --image-size 384");
    check_error(at384, 5, "--image-size 384: swin_tiny_patch4_window7_224 does not run at 384");
    BOOST_CHECK_MESSAGE(at384.err.find("both run at 224 or 448") != std::string::npos, at384.err);
    BOOST_CHECK_MESSAGE(at384.err.find("Swin models that run at 384: swin_base_patch4_window12_384") != std::string::npos,
                        at384.err);
    BOOST_CHECK_MESSAGE(at384.err.find("vit_base_patch16_224 does not run") == std::string::npos, at384.err);
    const RunResult at392 = run_vitrace("compare --image-size 392");
    check_error(at392, 5, "vit_base_patch16_224 does not run at 392 (image size 392 is not divisible by patch size 16)");
    BOOST_CHECK_MESSAGE(at392.err.find("swin_tiny_patch4_window7_224 does not run at 392 (stage 2") != std::string::npos,
                        at392.err);
    check_error(run_vitrace("compare --image-size 336"), 5, "(stage 3 (layers.3)'s patch merging");
    require_success(run_vitrace("compare --image-size 448"));
}

// Every picture `vitrace attention` names on a legend line exists and is a PNG of the stated kind.
void check_pictures(const RunResult& r, size_t at_least) {
    require_success(r);
    size_t files = 0;
    for (const std::string& line : lines_of(r.out)) {
        const auto gap = line.find(".png  ");
        if (gap == std::string::npos) continue;
        const std::string path = line.substr(0, gap + 4);
        files++;
        const vitrace::DecodedImage img = vitrace::read_image(path);
        BOOST_CHECK_MESSAGE(img.format == "png" && img.width >= 64 && img.height >= 64, path << " is not a picture");
    }
    BOOST_CHECK_GE(files, at_least);
}

BOOST_FIXTURE_TEST_CASE(attention_pictures_for_both_families, Workdir) {
    const std::string img = " --image " + quote(image) + " --untrained --out " + quote(path("pictures"));
    // ViT: input, 4 heads, the grid of heads, rollout by mean, max and min
    check_pictures(run_vitrace("attention --model vit_shapes" + img), 9);
    BOOST_CHECK(fs::exists(path("pictures/vit_rollout_max.png")));
    // Swin: input, regular and shifted query, mask, index, bias, bias table
    check_pictures(run_vitrace("attention --model swin_shapes --query 3,5 --head 1" + img), 7);
    BOOST_CHECK(fs::exists(path("pictures/swin_mask_stage0.png")));
    check_error(run_vitrace("attention --model vit_shapes --layer 9" + img), 2, "--layer");
    check_error(run_vitrace("attention --model swin_shapes --query 99,0" + img), 2, "--query");
}

// Where a colour sits in a picture: its pixel count and bounding box.
struct ColourBox {
    int count = 0, x0 = 1 << 30, y0 = 1 << 30, x1 = -1, y1 = -1;
};
ColourBox box_of(const vitrace::DecodedImage& img, std::array<uint8_t, 3> c) {
    ColourBox b;
    for (int y = 0; y < img.height; y++)
        for (int x = 0; x < img.width; x++) {
            const uint8_t* p = &img.rgb[((size_t)y * img.width + x) * 3];
            if (p[0] != c[0] || p[1] != c[1] || p[2] != c[2]) continue;
            b.count++;
            b.x0 = std::min(b.x0, x), b.y0 = std::min(b.y0, y), b.x1 = std::max(b.x1, x), b.y1 = std::max(b.y1, y);
        }
    return b;
}
// The most distinct colours on one row: a legend's colour bar has one per pixel or so.
size_t most_colours_in_a_row(const vitrace::DecodedImage& img) {
    size_t most = 0;
    for (int y = 0; y < img.height; y++) {
        std::set<uint32_t> seen;
        for (int x = 0; x < img.width; x++) {
            const uint8_t* p = &img.rgb[((size_t)y * img.width + x) * 3];
            seen.insert(p[0] << 16 | p[1] << 8 | p[2]);
        }
        most = std::max(most, seen.size());
    }
    return most;
}

// The pictures carry their marks: the query cell outlined in orange and its
// window in blue, where the query and window are; a legend strip; head labels.
// swin_shapes stage 0: a 16x16 grid, windows of 4, shift 2, 256-pixel pictures
// (16 pixels a cell).
BOOST_FIXTURE_TEST_CASE(attention_pictures_mark_the_query_window_legend_and_heads, Workdir) {
    const std::array<uint8_t, 3> orange = {255, 122, 0}, blue = {0, 179, 255}, ink = {31, 35, 40};
    const std::string img = " --image " + quote(image) + " --out " + quote(path("marks"));
    require_success(run_vitrace("attention --model swin_shapes --query 3,5" + img));
    // Regular windows: query (3, 5) is in window (0, 1), rows 0-3 and columns 4-7.
    const vitrace::DecodedImage regular = vitrace::read_image(path("marks/swin_query_stage0_regular.png"));
    const ColourBox q = box_of(regular, orange), w = box_of(regular, blue);
    BOOST_CHECK_EQUAL(q.x1 - q.x0 + 1, 16);
    BOOST_CHECK_EQUAL(q.y1 - q.y0 + 1, 16);
    BOOST_CHECK_EQUAL(w.x1 - w.x0 + 1, 64);
    BOOST_CHECK_EQUAL(w.y1 - w.y0 + 1, 64);
    BOOST_CHECK_EQUAL(q.x0 - w.x0, 1 * 16);  // column 5 is the window's second
    BOOST_CHECK_EQUAL(q.y0 - w.y0, 3 * 16);  // row 3 is its last
    BOOST_CHECK_GT(most_colours_in_a_row(regular), 150u);
    // Shifted by 2: the window of (3, 5) covers rows 2-5 and columns 2-5 of the grid.
    const vitrace::DecodedImage shifted = vitrace::read_image(path("marks/swin_query_stage0_shifted.png"));
    const ColourBox qs = box_of(shifted, orange), ws = box_of(shifted, blue);
    BOOST_CHECK_EQUAL(ws.x1 - ws.x0 + 1, 64);
    BOOST_CHECK_EQUAL(qs.x0 - ws.x0, 3 * 16);
    BOOST_CHECK_EQUAL(qs.y0 - ws.y0, 1 * 16);
    // Query (0, 0) in the shifted block: its window wraps around, in four corner pieces.
    require_success(run_vitrace("attention --model swin_shapes --query 0,0" + img));
    const vitrace::DecodedImage corner = vitrace::read_image(path("marks/swin_query_stage0_shifted.png"));
    const ColourBox wc = box_of(corner, blue), qc = box_of(corner, orange);
    BOOST_CHECK_EQUAL(wc.x1 - wc.x0 + 1, 256);  // from the left edge of the grid to its right edge
    BOOST_CHECK_EQUAL(wc.y1 - wc.y0 + 1, 256);
    BOOST_CHECK_LT(wc.count, 4 * 64 * 3 * 2);   // pieces' borders, not a grid-wide frame only
    BOOST_CHECK_EQUAL(qc.x0, wc.x0);            // the query is the top-left cell of the grid
    BOOST_CHECK_EQUAL(qc.y0, wc.y0);
    // The mask: a legend strip under the windows.
    BOOST_CHECK_GT(most_colours_in_a_row(vitrace::read_image(path("marks/swin_mask_stage0.png"))), 150u);

    // ViT: every head's tile labelled above it, the heads in four columns.
    require_success(run_vitrace("attention --model vit_shapes --query 2,5" + img));
    const vitrace::DecodedImage heads = vitrace::read_image(path("marks/vit_heads_layer3.png"));
    const int quarter = heads.width / 4;
    for (int h = 0; h < 4; h++) {
        int labelled = 0;
        for (int y = 0; y < 60; y++)
            for (int x = h * quarter; x < (h + 1) * quarter; x++) {
                const uint8_t* p = &heads.rgb[((size_t)y * heads.width + x) * 3];
                labelled += p[0] == ink[0] && p[1] == ink[1] && p[2] == ink[2];
            }
        BOOST_CHECK_MESSAGE(labelled > 20, "no label above head " << h);
    }
    // The query patch (2, 5) of the 8x8 grid, outlined in each of the 4 tiles: 32-pixel cells.
    const ColourBox hq = box_of(heads, orange);
    BOOST_CHECK_GT(hq.x1 - hq.x0, 3 * quarter);
    BOOST_CHECK_EQUAL(hq.y1 - hq.y0 + 1, 32);
    BOOST_CHECK_GT(most_colours_in_a_row(heads), 150u);
    BOOST_CHECK(fs::exists(path("marks/vit_query_attention_layer3_head0.png")));
    // Without a cls token the pictures follow the centre patch, and say so.
    const RunResult no_cls = run_vitrace("attention " + kTiny + " --class-token false" + img);
    require_success(no_cls);
    BOOST_CHECK_MESSAGE(no_cls.out.find("the attention of patch (2, 2)") != std::string::npos, no_cls.out);
    BOOST_CHECK(no_cls.out.find("cls token") == std::string::npos);
}

BOOST_FIXTURE_TEST_CASE(compare_draws_both_trained_models, Workdir) {
    const RunResult r = run_vitrace("compare --vit vit_shapes --swin swin_shapes --image " + quote(image) + " --out " +
                                    quote(path("cmp")));
    check_pictures(r, 16);
    BOOST_CHECK(r.out.find("vit_shapes predicts") != std::string::npos);
    BOOST_CHECK(r.out.find("swin_shapes predicts") != std::string::npos);
    BOOST_CHECK(fs::exists(path("cmp/vit_shapes/vit_rollout_mean.png")));
    BOOST_CHECK(fs::exists(path("cmp/swin_shapes/swin_mask_stage0.png")));
    check_error(run_vitrace("compare --image " + quote(image)), 2, "--image needs --out");
    check_error(run_vitrace("compare --out " + quote(path("bad"))), 2, "--out needs --image");
    check_error(run_vitrace("compare --picture-vit swin_shapes --image " + quote(image) + " --out " + quote(path("bad"))),
                2, "not a ViT model");
    BOOST_CHECK(!fs::exists(path("bad")));
    // A bad image fails before the table is printed.
    const RunResult missing = run_vitrace("compare --image " + quote(path("missing.png")) + " --out " + quote(path("bad")));
    check_error(missing, 3, "cannot open");
    BOOST_CHECK(missing.out.empty());
    BOOST_CHECK(!fs::exists(path("bad")));
}

BOOST_AUTO_TEST_CASE(bench_prints_json) {
    const RunResult r =
        run_vitrace("bench --model vit_tiny_patch16_224 --image-size 32 --patch 16 --depth 1 --repeat 2 --json");
    require_success(r);
    const json b = parse_json(r.out, "bench --json");
    BOOST_CHECK_EQUAL(b["model"], "vit_tiny_patch16_224");
    BOOST_REQUIRE(b["forward_ms"].is_object());
    BOOST_CHECK(b["forward_ms"]["median"].is_number() && b["forward_ms"]["median"] > 0);
    BOOST_CHECK(b["forward_ms"]["min"].is_number() && b["forward_ms"]["min"] <= b["forward_ms"]["median"]);
    BOOST_CHECK(b["gflops"].is_number() && b["gflops"] > 0);
    BOOST_CHECK(b["peak_rss_mb"].is_number() && b["peak_rss_mb"] > 0);
    BOOST_CHECK(b["setup"]["workspace_mb"] > 0);
    BOOST_CHECK(!b.contains("breakdown"));  // only with --breakdown
}

BOOST_AUTO_TEST_CASE(bench_breakdown_sorts_the_pass_into_kinds_of_work) {
    const RunResult r = run_vitrace("bench --model swin_shapes --untrained --repeat 3 --breakdown --json");
    require_success(r);
    const json b = parse_json(r.out, "bench --breakdown --json");
    BOOST_REQUIRE(b["breakdown"].is_array());
    double share = 0;
    std::set<std::string> kinds;
    for (const json& k : b["breakdown"]) {
        kinds.insert(k["kind"].get<std::string>());
        share += k["share"].get<double>();
        BOOST_CHECK(k["ms"].get<double>() >= 0);
        if (k["kind"] == "matrix products: linear layers") BOOST_CHECK(k["gflop_per_s"].get<double>() > 0);
        if (k["kind"] == "softmax") BOOST_CHECK_EQUAL(k["gflop_per_s"].get<double>(), 0.0);  // no multiply-adds counted
    }
    for (const char* k : {"matrix products: linear layers", "matrix products: attention", "softmax", "layernorm",
                          "window partition and reverse", "cyclic shifts", "statistics (the trace's record)"})
        BOOST_CHECK_MESSAGE(kinds.count(k), "no kind '" << k << "'");
    // The kinds are the pass, less the little the trace does between steps.
    BOOST_CHECK_GT(share, 0.8);
    BOOST_CHECK_LE(share, 1.01);
    const json& setup = b["setup"];
    BOOST_CHECK(setup["weights"].get<std::string>().find("seeded random") != std::string::npos);
    BOOST_CHECK(setup["weights_ms"] >= 0 && setup["workspace_ms"] >= 0 && setup["first_forward_ms"] > 0);
    BOOST_CHECK(setup["workspace_mb"] > 0);

    const RunResult text = run_vitrace("bench --model swin_shapes --untrained --repeat 2 --breakdown");
    require_success(text);
    BOOST_CHECK(text.out.find("where a forward pass's time goes") != std::string::npos);
    BOOST_CHECK(text.out.find("workspace: planned from the shape-only pass") != std::string::npos);
}

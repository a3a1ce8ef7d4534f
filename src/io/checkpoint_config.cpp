#include "io/checkpoint_config.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "io/checkpoint.h"

namespace fs = std::filesystem;

namespace vitrace {

namespace {

std::optional<nlohmann::json> read_json(const fs::path& path) {
    std::error_code ec;
    if (!fs::is_regular_file(path, ec)) return std::nullopt;
    std::ifstream in(path);
    std::stringstream text;
    text << in.rdbuf();
    nlohmann::json j = nlohmann::json::parse(text.str(), nullptr, false);
    require(!j.is_discarded(), ErrorKind::Checkpoint, "'" + path.string() + "' is not valid JSON");
    require(j.is_object(), ErrorKind::Checkpoint, "'" + path.string() + "' is not a JSON object");
    return j;
}

// A whole number or a list of them, from JSON or from "6" / "3,6,12,24" in metadata.
std::vector<int> ints_of(const nlohmann::json& v) {
    if (v.is_number_integer()) return {v.get<int>()};
    if (v.is_array() && std::all_of(v.begin(), v.end(), [](const auto& x) { return x.is_number_integer(); }))
        return v.get<std::vector<int>>();
    return {};
}

std::vector<int> ints_of(const std::string& text) {
    std::vector<int> out;
    std::stringstream in(text);
    std::string part;
    while (std::getline(in, part, ',')) {
        try {
            out.push_back(std::stoi(part));
        } catch (const std::exception&) {
            return {};
        }
    }
    return out;
}

// vit-pytorch's pool word ("cls", "mean": every token) as vitrace's --pool reads it.
std::string pool_word(const std::string& w) { return w == "mean" ? "mean_all" : w; }

// Heads, dim_head, eps, image size, pooling and activation from the JSON
// beside the file, metadata, and --heads and --dim-head, in that order.
ConfigHints hints_for(const SafetensorsFile& file, const CheckpointFiles& files, const GivenHints& given,
                      const Layout& layout, std::vector<std::string>& notes) {
    ConfigHints h;
    h.layout = layout.name;
    const std::vector<int>& heads = given.heads;
    const auto& meta = file.metadata();
    const std::string json_name = files.config_path.empty() ? "" : fs::path(files.config_path).filename().string();
    // vit-pytorch's words: {"heads": 8, "dim_head": 64, "pool": "cls"}; ml-cvnets': "activation": "swish"
    auto word = [&](std::optional<std::string>& out, std::initializer_list<const char*> keys, bool pool,
                    const std::string& what) {
        for (const char* key : keys) {
            if (out) return;
            if (files.config && files.config->contains(key) && (*files.config)[key].is_string()) {
                out = (*files.config)[key].get<std::string>();
                notes.push_back(what + ": from " + json_name + "'s " + key);
            } else if (meta.count(key)) {
                out = meta.at(key);
                notes.push_back(what + ": from the file's metadata (" + key + ")");
            }
            if (out && pool) out = pool_word(*out);
        }
    };
    word(h.pool, {"pool"}, true, "pool");
    word(h.act, {"activation", "act", "hidden_act"}, false, "act");
    if (files.config) {
        const nlohmann::json& c = *files.config;
        if (c.contains("dim_head") && c["dim_head"].is_number_integer()) {
            h.dim_head = c["dim_head"].get<int>();
            notes.push_back("dim_head: from " + json_name + "'s dim_head");
        }
        for (const char* key : {"num_attention_heads", "num_heads", "heads", "n_attn_heads"})
            if (h.heads.empty() && c.contains(key)) {
                h.heads = ints_of(c[key]);
                if (!h.heads.empty()) notes.push_back("heads: from " + json_name + "'s " + key);
            }
        if (c.contains("layer_norm_eps") && c["layer_norm_eps"].is_number()) {
            h.norm_eps = c["layer_norm_eps"].get<double>();
            notes.push_back("LayerNorm eps: from " + json_name + "'s layer_norm_eps");
        }
        if (c.contains("image_size") && c["image_size"].is_number_integer()) h.image_size = c["image_size"].get<int>();
        if (c.contains("pretrained_cfg") && c["pretrained_cfg"].contains("input_size")) {
            const std::vector<int> size = ints_of(c["pretrained_cfg"]["input_size"]);
            if (size.size() == 3) h.image_size = size[1];
        }
    }
    for (const char* key : {"heads", "num_heads", "num_attention_heads"})
        if (h.heads.empty() && meta.count(key)) {
            h.heads = ints_of(meta.at(key));
            if (!h.heads.empty()) notes.push_back(std::string("heads: from the file's metadata (") + key + ")");
        }
    if (!h.dim_head && meta.count("dim_head")) {
        const std::vector<int> d = ints_of(meta.at("dim_head"));
        if (d.size() == 1) {
            h.dim_head = d[0];
            notes.push_back("dim_head: from the file's metadata (dim_head)");
        }
    }
    if (!h.dim_head && given.dim_head) {
        h.dim_head = given.dim_head;
        notes.push_back("dim_head: from --dim-head");
    } else if (given.dim_head && h.dim_head != given.dim_head) {
        notes.push_back("--dim-head ignored: the checkpoint's own files say dim_head, and they come first");
    }
    for (const char* key : {"norm_eps", "layer_norm_eps"})
        if (!h.norm_eps && meta.count(key)) {
            try {
                h.norm_eps = std::stod(meta.at(key));
                notes.push_back(std::string("LayerNorm eps: from the file's metadata (") + key + ")");
            } catch (const std::exception&) {
            }
        }
    if (h.heads.empty() && !heads.empty()) {
        h.heads = heads;
        notes.push_back("heads: from --heads");
    } else if (!heads.empty() && heads != h.heads) {
        notes.push_back("--heads ignored: the checkpoint's own files say the heads, and they come first");
    }
    return h;
}

// The shape that a layout gives a model parameter from this file.
std::optional<Shape> probe_shape(const SafetensorsFile& file, const Layout& layout, const std::string& name) {
    const Source source = source_of(layout, name);
    std::optional<Shape> shape;
    for (const std::string& n : source.names) {
        const TensorEntry* e = file.find(n);
        if (!e || e->shape.empty()) return std::nullopt;
        if (!shape)
            shape = e->shape;
        else
            (*shape)[0] += e->shape[0];  // concatenated along axis 0
    }
    if (source.kind == Source::Kind::Rows) (*shape)[0] /= source.parts;
    if (source.kind == Source::Kind::Reshaped) shape = reshaped_shape(*shape, source.rank);
    return shape;
}

// The names of the file that one of the layout's markers matches.
std::vector<std::string> marked_names(const SafetensorsFile& file, const Layout& layout) {
    std::vector<std::string> out;
    Captures c;
    for (const auto& t : file.tensors())
        for (const std::string& m : layout.markers)
            if (match_name(m, t.name, c)) {
                out.push_back(t.name);
                break;
            }
    return out;
}

std::string first_names(const std::vector<std::string>& names, size_t n = 3) {
    std::string s;
    for (size_t i = 0; i < names.size() && i < n; i++) s += (i ? ", " : "") + names[i];
    if (names.size() > n) s += ", ...";
    return s;
}

// How many of the file's names a layout knows: its markers and the sources of its rules.
size_t known_names(const SafetensorsFile& file, const Layout& layout) {
    std::vector<std::string> patterns = layout.markers;
    for (const LayoutRule& r : layout.rules) patterns.insert(patterns.end(), r.source.names.begin(), r.source.names.end());
    size_t n = 0;
    Captures c;
    for (const auto& t : file.tensors())
        n += std::any_of(patterns.begin(), patterns.end(), [&](const std::string& p) { return match_name(p, t.name, c); });
    return n;
}

std::string model_name(const CheckpointFiles& files) {
    if (files.config && files.config->contains("architecture") && (*files.config)["architecture"].is_string())
        return (*files.config)["architecture"].get<std::string>();
    const fs::path p(files.weights);
    return p.filename() == "model.safetensors" && p.has_parent_path() ? p.parent_path().filename().string()
                                                                      : p.stem().string();
}

// config.json's name for a field of model.config, where the two differ.
struct ConfigKey {
    const char* json;   // in config.json
    const char* field;  // in model.config
};
constexpr ConfigKey kConfigKeys[] = {
    {"hidden_size", "width"},     {"num_hidden_layers", "depth"}, {"embed_dim", "embed_dim"},
    {"depths", "depths"},         {"patch_size", "patch"},        {"image_size", "image_size"},
    {"window_size", "window"},    {"qkv_bias", "qkv_bias"},       {"num_classes", "classes"},
    {"dim", "width"},             {"depth", "depth"},             {"mlp_dim", "hidden"},
    {"dim_head", "dim_head"},
};

// Every field where config.json says otherwise than the tensors.
std::vector<std::string> contradictions(const nlohmann::json& config, const ModelConfig& cfg) {
    const ConfigRecord record = config_record(cfg);
    std::vector<std::string> out;
    for (const ConfigKey& k : kConfigKeys) {
        if (!config.contains(k.json)) continue;
        const auto it = std::find_if(record.begin(), record.end(), [&](const auto& e) { return e.first == k.field; });
        if (it == record.end()) continue;
        const nlohmann::json have = std::visit(
            [](const auto& v) -> nlohmann::json {
                if constexpr (std::is_same_v<std::decay_t<decltype(v)>, std::vector<ConfigRecord>>)
                    return nullptr;
                else
                    return v;
            },
            it->second.value);
        const nlohmann::json& said = config[k.json];
        if (said.is_number() && have.is_number() ? said.get<double>() != have.get<double>() : said != have)
            out.push_back(std::string(k.json) + " " + said.dump() + ", but the tensors give " + k.field + " " +
                          have.dump());
    }
    return out;
}

}  // namespace

CheckpointFiles find_checkpoint(const std::string& weights) {
    CheckpointFiles f;
    std::error_code ec;
    fs::path dir;
    if (fs::is_directory(weights, ec)) {
        dir = weights;
        f.weights = (dir / "model.safetensors").string();
        require(fs::is_regular_file(f.weights, ec), ErrorKind::Checkpoint,
                "checkpoint '" + weights + "' is a directory with no model.safetensors in it");
    } else {
        f.weights = weights;
        dir = fs::path(weights).parent_path();
        if (dir.empty()) dir = ".";
        // vit.safetensors and vit.json: what the file cannot say (vit-pytorch's heads, dim_head, pool)
        const fs::path beside = fs::path(weights).replace_extension(".json");
        if (beside != fs::path(weights) && (f.config = read_json(beside))) f.config_path = beside.string();
    }
    if (!f.config && (f.config = read_json(dir / "config.json"))) f.config_path = (dir / "config.json").string();
    if ((f.preprocessor = read_json(dir / "preprocessor_config.json")))
        f.preprocessor_path = (dir / "preprocessor_config.json").string();
    return f;
}

CheckpointModel model_from_checkpoint(const SafetensorsFile& file, const CheckpointFiles& files,
                                      const GivenHints& given) {
    const std::string head = "checkpoint " + file.what() + " ";
    std::vector<const Layout*> marked;
    for (const Layout& l : layouts())
        if (!marked_names(file, l).empty()) marked.push_back(&l);
    if (marked.empty()) {
        const Layout* closest = &layouts().front();
        for (const Layout& l : layouts())
            if (known_names(file, l) > known_names(file, *closest)) closest = &l;
        std::vector<std::string> names;
        for (const auto& t : file.tensors()) names.push_back(t.name);
        throw Error(ErrorKind::Checkpoint,
                    head + "matches no checkpoint layout vitrace reads; the closest is " + closest->name + " (" +
                        closest->family + "), which has " + closest->identified_by + " (" +
                        first_names(closest->markers) + "); the file's first names are " + first_names(names));
    }

    std::vector<std::string> failures;
    for (const Layout* l : marked) {
        const Family& family = family_named(l->family);
        CheckpointModel out;
        out.layout = l;
        out.markers = marked_names(file, *l);
        try {
            const ConfigHints hints = hints_for(file, files, given, *l, out.notes);
            const ShapeProbe probe = [&](const std::string& name) { return probe_shape(file, *l, name); };
            std::any params = family.infer(probe, hints, out.notes);
            validate_config(family, params);
            out.config = model_config(model_name(files), family, std::move(params),
                                      "read from " + file.what() + " (" + l->name + " layout)");
            Model m = make_model(out.config);
            const std::string problems = layout_problems(m, file, *l);
            if (!problems.empty()) {
                failures.push_back("as the " + l->name + " layout: " + problems);
                continue;
            }
        } catch (const Error& e) {
            if (e.kind == ErrorKind::Config) throw;  // heads that do not divide the width, ...
            failures.push_back("as the " + l->name + " layout: " + e.what());
            continue;
        }
        if (files.config) {
            const std::vector<std::string> bad = contradictions(*files.config, out.config);
            if (!bad.empty()) {
                std::string list;
                for (const std::string& b : bad) list += (list.empty() ? "" : "; ") + b;
                throw Error(ErrorKind::Checkpoint, "config.json '" + files.config_path + "' contradicts " +
                                                       file.what() + ": " + list);
            }
        }
        return out;
    }
    // The file's names point to layouts that name the same tensors differently.
    for (const Layout* a : marked)
        for (const Layout* b : marked)
            if (a->markers != b->markers && a->family == b->family && a->name != b->name)
                throw Error(ErrorKind::Checkpoint,
                            head + "mixes the " + a->name + " layout (" + first_names(marked_names(file, *a), 2) +
                                ") with the " + b->name + " layout (" + first_names(marked_names(file, *b), 2) +
                                "); save one model's state_dict as it is");
    std::string all;
    for (const std::string& f : failures) all += (all.empty() ? "" : "; ") + f;
    throw Error(ErrorKind::Checkpoint, head + "could not be read " + all);
}

std::vector<std::string> config_differences(const SafetensorsFile& file, const CheckpointFiles& files,
                                            const ModelConfig& cfg) {
    CheckpointModel held;
    try {
        held = model_from_checkpoint(file, files, {});
    } catch (const Error&) {
        return {};
    }
    if (held.config.family != cfg.family) return {"family: the file " + held.config.family->name + ", the model " +
                                                  cfg.family->name};
    const bool heads_guessed = std::any_of(held.notes.begin(), held.notes.end(),
                                           [](const std::string& n) { return n.rfind("heads ", 0) == 0; });
    const ConfigRecord a = config_record(held.config), b = config_record(cfg);
    std::vector<std::string> out;
    for (const ConfigField& f : cfg.family->fields) {
        if (f.json.empty() || !f.get || (f.json == "heads" && heads_guessed)) continue;
        const auto find = [&](const ConfigRecord& r) {
            return std::find_if(r.begin(), r.end(), [&](const auto& e) { return e.first == f.json; });
        };
        const auto x = find(a), y = find(b);
        if (x == a.end() || y == b.end()) continue;
        const std::string held_text = config_text(x->second), model_text = config_text(y->second);
        if (held_text != model_text && f.json != "pos_embed_grid")
            out.push_back(f.json + ": the file " + held_text + ", the model " + model_text);
    }
    return out;
}

PreprocessingHints preprocessing_hints(const CheckpointFiles& files) {
    PreprocessingHints h;
    auto three = [](const nlohmann::json& v) -> std::optional<std::array<float, 3>> {
        if (!v.is_array() || v.size() != 3) return std::nullopt;
        std::array<float, 3> a{};
        for (int i = 0; i < 3; i++) {
            if (!v[i].is_number()) return std::nullopt;
            a[i] = v[i].get<float>();
        }
        return a;
    };
    if (files.preprocessor) {
        const nlohmann::json& p = *files.preprocessor;
        if (p.contains("image_mean")) h.mean = three(p["image_mean"]);
        if (p.contains("image_std")) h.std = three(p["image_std"]);
        if (h.mean || h.std) h.source = "preprocessor_config.json";
    }
    if (!h.mean && !h.std && files.config && files.config->contains("pretrained_cfg")) {
        const nlohmann::json& p = (*files.config)["pretrained_cfg"];
        if (p.contains("mean")) h.mean = three(p["mean"]);
        if (p.contains("std")) h.std = three(p["std"]);
        if (h.mean || h.std) h.source = "config.json (pretrained_cfg)";
    }
    return h;
}

std::vector<std::string> config_labels(const nlohmann::json& config, const std::string& what) {
    std::vector<std::string> names;
    if (config.contains("id2label") && config["id2label"].is_object()) {
        for (const auto& [key, value] : config["id2label"].items()) {
            int index = -1;
            try {
                index = std::stoi(key);
            } catch (const std::exception&) {
            }
            require(index >= 0 && index < 1000000 && value.is_string(), ErrorKind::Checkpoint,
                    what + ": id2label needs whole-number keys and names, got \"" + key + "\"");
            if ((int)names.size() <= index) names.resize(index + 1);
            names[index] = value.get<std::string>();
        }
    } else if (config.contains("label_names") && config["label_names"].is_array()) {
        for (const auto& v : config["label_names"])
            names.push_back(v.is_string() ? v.get<std::string>() : v.dump());
    }
    return names;
}

}  // namespace vitrace

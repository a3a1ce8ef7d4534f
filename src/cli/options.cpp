#include "cli/options.h"

#include <unistd.h>

#include <cctype>
#include <cmath>

#include <CLI/CLI.hpp>

#include "cli/errors.h"
#include "cli/format.h"
#include "core/vit.h"

namespace vitrace::cli {

namespace {

std::string first_spelling(const std::string& flags) { return flags.substr(0, flags.find(',')); }

// One flag as the families declare it: the first family's help, and where
// another family reads it differently, that family's help in brackets.
struct FlagDecl {
    std::string spellings;
    FlagKind kind;
    std::string help;
};

std::vector<FlagDecl> config_flags() {
    std::vector<FlagDecl> flags;
    for (const Family* family : families()) {
        for (const ConfigField& field : family->fields) {
            if (field.flag.empty()) continue;
            auto it = std::find_if(flags.begin(), flags.end(), [&](const FlagDecl& d) {
                return first_spelling(d.spellings) == first_spelling(field.flag);
            });
            if (it == flags.end()) {
                flags.push_back({field.flag, field.kind, field.help});
                continue;
            }
            require(it->kind == field.kind, ErrorKind::Internal,
                    field.flag + ": families read it as different kinds of value");
            if (field.help.empty() || field.help == it->help) continue;
            if (it->help.empty())
                it->help = field.help;
            else
                it->help += " (" + family->name + ": " + char(std::tolower(field.help[0])) + field.help.substr(1) + ")";
        }
    }
    return flags;
}

}  // namespace

void add_model_options(CLI::App& cmd, ModelOptions& o, const char* default_model, bool weights_name_it) {
    CLI::Option* model = cmd.add_option(
        "--model", o.model,
        weights_name_it ? "Model name (see `vitrace models`); without it, the model that --weights holds"
                        : "Model name (see `vitrace models`)");
    if (default_model) {
        o.model = default_model;
        model->capture_default_str();
    } else if (!weights_name_it) {
        model->required();
    }
    for (const FlagDecl& d : config_flags()) {
        ModelOptions::Slot& slot = o.flags[first_spelling(d.spellings)];
        slot.kind = d.kind;
        switch (d.kind) {
            case FlagKind::Int: cmd.add_option(d.spellings, slot.one, d.help); break;
            case FlagKind::Ints: cmd.add_option(d.spellings, slot.many, d.help)->delimiter(','); break;
            case FlagKind::Number: cmd.add_option(d.spellings, slot.number, d.help); break;
            case FlagKind::Word: cmd.add_option(d.spellings, slot.word, d.help); break;
            case FlagKind::Switch: cmd.add_flag(d.spellings, slot.on, d.help); break;
        }
    }
}

namespace {

// A named ViT that loads a checkpoint (--weights, or the trained weights it
// ships in data/) keeps the position grid the file holds, so that
// --image-size resamples pos_embed as timm's create_model(..., img_size=S)
// does, instead of refusing the file. Random weights are made at the new
// size and need no resampling. A file that cannot be read is left for the
// load to report.
void keep_checkpoint_positions(ModelConfig& cfg, const WeightOptions* w) {
    if (!std::any_cast<VitConfig>(&cfg.params)) return;
    std::string path;
    if (w && !w->weights.empty()) path = w->weights;
    else if (!(w && w->untrained) && !cfg.weights_file.empty()) path = data_dir() + "/" + cfg.weights_file;
    if (path.empty()) return;
    try {
        std::vector<std::string> notes;
        const ModelConfig held = config_from_checkpoint(path, {}, notes);
        if (held.family == cfg.family) cfg.as<VitConfig>().pos_embed_grid = held.as<VitConfig>().pos_embed_grid;
    } catch (const Error&) {
    }
}

}  // namespace

ModelConfig resolve_config(const ModelOptions& o, const WeightOptions* w) {
    ConfigOverrides overrides;
    for (const auto& [flag, slot] : o.flags) {
        FlagValue v;
        if (slot.one) v.ints = {*slot.one};
        else if (!slot.many.empty()) v.ints = slot.many;
        else if (slot.number) v.number = *slot.number;
        else if (slot.word) v.word = *slot.word;
        else if (slot.on) v.ints = {1};
        else continue;  // not given
        overrides[flag] = v;
    }
    if (!o.model.empty()) {
        ModelConfig cfg = find_model(o.model);
        keep_checkpoint_positions(cfg, w);
        apply_overrides(cfg, overrides);
        return cfg;
    }
    if (!w || w->weights.empty())
        throw Error(ErrorKind::Usage, "--model or --weights is required: a built-in model (see vitrace models), or "
                                      "a checkpoint whose model vitrace reads from its tensors");
    // --heads tells what the file cannot; the other flags change the model it holds.
    GivenHints heads;
    if (const auto h = overrides.find("--heads"); h != overrides.end()) {
        heads.heads = h->second.ints;
        overrides.erase(h);
    }
    if (const auto h = overrides.find("--dim-head"); h != overrides.end()) {
        heads.dim_head = h->second.ints.at(0);
        overrides.erase(h);
    }
    std::vector<std::string> notes;
    ModelConfig cfg = config_from_checkpoint(w->weights, heads, notes);
    for (const std::string& note : notes) {
        // "image size ... guessed" needs no warning when --image-size says it, "act ... guessed" none with --act
        const bool given = (overrides.count("--image-size") && note.rfind("image size", 0) == 0) ||
                           (overrides.count("--act") && note.rfind("act ", 0) == 0);
        if ((note.find("guessed") != std::string::npos && !given) || note.find(" ignored: ") != std::string::npos)
            print_warning(note);
    }
    apply_overrides(cfg, overrides);
    return cfg;
}

ModelConfig config_from_flags(const std::string& flags) {
    CLI::App app;
    ModelOptions o;
    add_model_options(app, o);
    try {
        app.parse(flags, false);
    } catch (const CLI::ParseError& e) {
        throw Error(ErrorKind::Internal, "model flags '" + flags + "': " + e.what());
    }
    return resolve_config(o);
}

void add_weight_options(CLI::App& cmd, WeightOptions& o) {
    cmd.add_option("--weights", o.weights,
                   "safetensors checkpoint (timm, Hugging Face, torchvision, vit-pytorch or ml-cvnets names), or a folder with "
                   "model.safetensors and config.json");
    cmd.add_option("--labels", o.labels,
                   "Class names: none, or a file with one name a line, or a config.json with id2label "
                   "(default: the checkpoint's config.json, else ImageNet's for 1000 classes)");
    cmd.add_option("--seed", o.seed, "Seed of the random weights used without --weights")
        ->capture_default_str();
    cmd.add_flag("--untrained", o.untrained, "Use seeded random weights even for a model that ships trained ones");
    cmd.add_flag("--allow-nonfinite", o.allow_nonfinite, "Load a checkpoint even if it has NaN or inf values");
}

void add_memory_options(CLI::App& cmd, MemoryOptions& o) {
    cmd.add_option("--max-memory", o.max_memory,
                   "Refuse runs estimated to need more memory than this (e.g. 4G, 500M; default: 80% of RAM)");
}

namespace {

int64_t parse_size(const std::string& text) {
    size_t used = 0;
    double v = 0;
    try {
        v = std::stod(text, &used);
    } catch (const std::exception&) {
        used = 0;
    }
    const std::string unit = text.substr(used);
    const double scale = unit.empty() || unit == "B" ? 1.0
                         : unit == "K" || unit == "KB" ? 1024.0
                         : unit == "M" || unit == "MB" ? 1048576.0
                         : unit == "G" || unit == "GB" ? 1073741824.0
                         : unit == "T" || unit == "TB" ? 1099511627776.0
                                                       : -1.0;
    if (used == 0 || scale < 0 || !(v > 0) || v * scale > 9.0e18)
        throw Error(ErrorKind::Usage, "--max-memory: expected a size such as 4G or 500M, got '" + text + "'");
    return static_cast<int64_t>(v * scale);
}

}  // namespace

void check_memory(const ModelConfig& cfg, const TraceOptions& options, const MemoryOptions& o) {
    int64_t budget = 0;
    if (!o.max_memory.empty()) {
        budget = parse_size(o.max_memory);
    } else {
        const long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGE_SIZE);
        if (pages <= 0 || page <= 0) return;  // unknown RAM: no default budget
        budget = static_cast<int64_t>(0.8 * (double)pages * (double)page);
    }
    const MemoryEstimate e = estimate_memory(cfg, options);
    auto size = [](int64_t bytes) { return human((double)bytes, Units::RoundBytes); };
    if (e.total() > budget)
        throw Error(ErrorKind::Config, cfg.name + " at " + std::to_string(cfg.image_size()) + "x" +
                                           std::to_string(cfg.image_size()) + " needs about " + size(e.total()) +
                                           " (weights " + size(e.weights_bytes) + ", activations " +
                                           size(e.activation_bytes) + ", recorded values " + size(e.trace_bytes) +
                                           "), above the memory budget of " + size(budget) +
                                           "; raise --max-memory, or trace fewer values");
}

void add_norm_options(CLI::App& cmd, NormOptions& o) {
    cmd.add_option("--mean", o.mean,
                   "Per-channel mean, r,g,b (default: the checkpoint's preprocessing, else ImageNet's "
                   "0.485,0.456,0.406)")
        ->delimiter(',');
    cmd.add_option("--std", o.std,
                   "Per-channel std, r,g,b (default: the checkpoint's preprocessing, else ImageNet's "
                   "0.229,0.224,0.225)")
        ->delimiter(',');
}

Normalization normalization(const NormOptions& o, const WeightOptions& w) {
    return normalization_for(o.mean, o.std, w.weights);
}

std::vector<std::string> split_commas(const std::string& s) {
    std::vector<std::string> out;
    size_t start = 0;
    while (start <= s.size()) {
        const size_t comma = std::min(s.find(',', start), s.size());
        if (comma > start) out.push_back(s.substr(start, comma - start));
        start = comma + 1;
    }
    return out;
}

}  // namespace vitrace::cli

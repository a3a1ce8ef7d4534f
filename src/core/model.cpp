#include "core/model.h"
#include "core/linear.h"
#include "core/names.h"
#include "core/params.h"

#include <optional>

#include <cmath>
#include <algorithm>
#include <cstring>
#include <cstdio>

namespace vitrace {

ModelConfig find_model(std::string_view name) {
    std::vector<std::string> names;
    for (const auto& m : builtin_models()) {
        if (m.name == name) return m;
        names.push_back(m.name);
    }
    const std::string guess = did_you_mean(std::string(name), names);
    if (!guess.empty())
        throw Error(ErrorKind::Config, "unknown model '" + std::string(name) + "'; " + guess + " (vitrace models lists all " +
                                           std::to_string(names.size()) + ")");
    std::string known;
    for (const std::string& n : names) known += (known.empty() ? "" : ", ") + n;
    throw Error(ErrorKind::Config, "unknown model '" + std::string(name) + "'; known models: " + known);
}

std::string config_text(const ConfigValue& v) {
    if (const auto* b = std::get_if<bool>(&v.value)) return *b ? "true" : "false";
    if (const auto* n = std::get_if<int64_t>(&v.value)) return std::to_string(*n);
    if (const auto* x = std::get_if<double>(&v.value)) {
        char buf[32];
        std::snprintf(buf, sizeof buf, "%g", *x);
        return buf;
    }
    if (const auto* w = std::get_if<std::string>(&v.value)) return *w;
    std::string s;
    if (const auto* list = std::get_if<std::vector<int>>(&v.value))
        for (size_t i = 0; i < list->size(); i++) {
            if (i) s += ',';
            s += std::to_string((*list)[i]);
        }
    return s;
}

namespace {

// A value read back, as the command line would give it.
FlagValue as_flag_value(const ConfigValue& v) {
    FlagValue f;
    if (const auto* n = std::get_if<int64_t>(&v.value)) f.ints = {static_cast<int>(*n)};
    else if (const auto* b = std::get_if<bool>(&v.value)) f.word = *b ? "true" : "false";
    else if (const auto* list = std::get_if<std::vector<int>>(&v.value)) f.ints = *list;
    else if (const auto* x = std::get_if<double>(&v.value)) f.number = *x;
    else if (const auto* w = std::get_if<std::string>(&v.value)) f.word = *w;
    return f;
}

}  // namespace

void validate_config(const Family& family, const std::any& params) {
    std::any copy = params;  // each field checks its own value by setting it again
    for (const ConfigField& field : family.fields)
        if (field.set && field.get && !field.flag.empty()) field.set(copy, as_flag_value(field.get(params)));
    family.validate(params);
}

namespace {

// target with the flags of `o` set, not yet validated.
ModelConfig with_fields(const ModelConfig& target, const ConfigOverrides& o) {
    ModelConfig cfg = target;
    const Family& family = *cfg.family;
    // In the order the family declares its fields, so that the first problem
    // reported is the same whatever the order of the flags.
    for (const ConfigField& field : family.fields) {
        if (field.flag.empty()) continue;
        for (const auto& [flag, value] : o)
            if (family.field_by_flag(flag) == &field) field.set(cfg.params, value);
    }
    for (const auto& [flag, value] : o)
        require(family.field_by_flag(flag) != nullptr, ErrorKind::Config,
                flag + ": " + cfg.name + " (a " + family.name + " model) has no such setting");
    return cfg;
}

// The same, validated; throws the family's message.
ModelConfig overridden(const ModelConfig& target, const ConfigOverrides& o) {
    ModelConfig cfg = with_fields(target, o);
    validate_config(*cfg.family, cfg.params);
    return cfg;
}

ConfigOverrides with_size(ConfigOverrides o, int S) {
    FlagValue size;
    size.ints = {S};
    o["--image-size"] = size;
    return o;
}

}  // namespace

std::string size_problem(const ModelConfig& cfg, int S) {
    try {
        overridden(cfg, with_size({}, S));
        return "";
    } catch (const Error& e) {
        return e.what();
    }
}

bool runs_at(const ModelConfig& cfg, int S) { return size_problem(cfg, S).empty(); }

std::vector<int> nearest_image_sizes(const ModelConfig& cfg, int S) {
    std::optional<int> below, above;
    for (int k = 1; k <= 4096 && !(above && (below || S - k < 1)); k++) {
        if (!below && S - k >= 1 && runs_at(cfg, S - k)) below = S - k;
        if (!above && runs_at(cfg, S + k)) above = S + k;
    }
    std::vector<int> out;
    if (below) out.push_back(*below);
    if (above) out.push_back(*above);
    return out;
}

std::string sizes_advice(const ModelConfig& cfg, int S, const std::string& who) {
    const std::vector<int> near = nearest_image_sizes(cfg, S);
    if (near.empty()) return "";
    std::string sizes = std::to_string(near[0]);
    if (near.size() > 1) sizes += " or " + std::to_string(near[1]);
    return (who.empty() ? cfg.name : who) + " runs at " + sizes + (near.size() > 1 ? ", the nearest image sizes that fit" : ", the nearest image size that fits");
}

void apply_overrides(ModelConfig& target, const ConfigOverrides& o) {
    ModelConfig cfg = with_fields(target, o);  // a flag the family lacks fails here, as it is
    try {
        validate_config(*cfg.family, cfg.params);
    } catch (const Error& e) {
        // When the image size is what does not fit, say which sizes do.
        if (e.kind != ErrorKind::Config) throw;
        const bool other_flags = std::any_of(o.begin(), o.end(), [](const auto& f) { return f.first != "--image-size"; });
        const std::string advice = sizes_advice(cfg, cfg.image_size(), other_flags ? cfg.name + " with these settings" : "");
        throw Error(e.kind, std::string(e.what()) + (advice.empty() ? "" : "; " + advice));
    }
    if (cfg.classes() != target.classes()) cfg.class_names.clear();
    target = std::move(cfg);
}

ConfigRecord config_record(const ModelConfig& cfg) {
    ConfigRecord r;
    for (const ConfigField& f : cfg.family->fields)
        if (!f.json.empty() && f.get) r.emplace_back(f.json, f.get(cfg.params));
    for (auto& entry : cfg.family->derived(cfg.params)) r.push_back(std::move(entry));
    return r;
}

Model make_model(const ModelConfig& cfg) {
    Model m;
    m.config = cfg;
    m.weights = cfg.family->make_weights(cfg.params);
    return m;
}

void visit_params(Model& m, const ParamFn& fn) { m.config.family->visit_params(m.weights, m.config.params, fn); }

void pack_weights(Model& m) {
    EachLinear each{[](const std::string&, Linear& l) { pack_linear(l); }};
    m.config.family->visit_linears(m.weights, m.config.params, each);
}

int64_t param_count(const ModelConfig& cfg) {
    Model m = make_model(cfg);
    int64_t n = 0;
    visit_params(m, [&](const std::string&, Tensor& t, ParamKind, int64_t) { n += t.numel(); });
    return n;
}

namespace {

uint64_t splitmix64(uint64_t x) {
    x += 0x9E3779B97F4A7C15ull;
    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
    x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
    return x ^ (x >> 31);
}

uint64_t fnv1a(const std::string& s) {
    uint64_t h = 0xCBF29CE484222325ull;
    for (unsigned char c : s) h = (h ^ c) * 0x100000001B3ull;
    return h;
}

}  // namespace

void init_random(Model& m, uint64_t seed, Packing packing) {
    // The Linear each weight tensor belongs to, when the weights are made packed.
    std::vector<std::pair<const Tensor*, Linear*>> linears;
    if (packing == Packing::Packed) {
        EachLinear each{[&](const std::string&, Linear& l) { linears.push_back({&l.weight, &l}); }};
        m.config.family->visit_linears(m.weights, m.config.params, each);
    }
    visit_params(m, [&](const std::string& name, Tensor& t, ParamKind kind, int64_t fan_in) {
        const int64_t n = t.numel();
        if (kind == ParamKind::NormScale || kind == ParamKind::NormShift) {
            t.data.assign(n, kind == ParamKind::NormScale ? 1.0f : 0.0f);
            return;
        }
        const double bound = kind == ParamKind::Embedding ? 0.02 * std::sqrt(3.0) : 1.0 / std::sqrt((double)fan_in);
        const uint64_t key = splitmix64(seed) ^ fnv1a(name);
        // The value at flat (row-major) index i, whatever layout it is written in.
        auto value = [key, bound](int64_t i) {
            const double u = (splitmix64(key + (uint64_t)i) >> 11) * 0x1.0p-53;  // [0, 1)
            return static_cast<float>((2.0 * u - 1.0) * bound);
        };
        const auto linear = std::find_if(linears.begin(), linears.end(), [&](const auto& l) { return l.first == &t; });
        if (linear != linears.end() && n > 0) {
            const int N = static_cast<int>(t.dim(0)), K = static_cast<int>(n / N);
            Floats& packed = linear->second->packed;
            packed.resize(packed_weight_floats(N, K));  // unset: pack_weight_from writes every value
            pack_weight_from(packed.data(), N, K, value);
            t.data = Floats{};  // as pack_linear leaves it: the shape, no values
            return;
        }
        t.data.resize(n);  // unset: the loop below writes every value
#pragma omp parallel for schedule(static) if (n > 65536)
        for (int64_t i = 0; i < n; i++) t.data[i] = value(i);
    });
}

std::vector<Prediction> top_k(const Tensor& logits, int k, const std::vector<std::string>& class_names) {
    const int n = static_cast<int>(logits.numel());
    if (!logits.has_data() || n == 0) return {};
    // softmax, with the max subtracted so that exp cannot overflow
    double mx = logits[0];
    for (int i = 1; i < n; i++) mx = std::max<double>(mx, logits[i]);
    double sum = 0;
    for (int i = 0; i < n; i++) sum += std::exp(logits[i] - mx);
    std::vector<int> order(n);
    for (int i = 0; i < n; i++) order[i] = i;
    k = std::min(k, n);
    std::partial_sort(order.begin(), order.begin() + k, order.end(),
                      [&](int a, int b) { return logits[a] != logits[b] ? logits[a] > logits[b] : a < b; });
    std::vector<Prediction> out;
    for (int i = 0; i < k; i++) {
        const int c = order[i];
        out.push_back({c, c < (int)class_names.size() ? class_names[c] : "", std::exp(logits[c] - mx) / sum});
    }
    return out;
}

ModelOutput forward(const Model& m, const Tensor& image, Trace& trace) {
    return m.config.family->forward(m.config.params, m.weights, image, trace, *m.workspace);
}

int64_t plan_workspace(const Model& m) {
    // The shape-only pass, on shape-only weights, into m's own workspace.
    Model shapes = make_model(m.config);
    shapes.workspace = m.workspace;
    const int S = m.config.image_size();
    Trace trace(TraceOptions{.values = ValuesMode::None});
    PlanningScope planning(m.workspace.get());
    forward(shapes, Tensor::shape_only({3, S, S}), trace);
    return planning.bytes();
}

}  // namespace vitrace

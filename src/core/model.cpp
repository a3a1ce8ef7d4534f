#include "core/model.h"

#include <cmath>
#include <algorithm>
#include <cstring>

namespace vitrace {

const char* family_name(Family f) { return f == Family::ViT ? "vit" : "swin"; }

namespace {

ModelConfig vit_model(std::string name, int patch, int width, int depth, int heads, std::string summary) {
    ModelConfig m;
    m.name = std::move(name);
    m.family = Family::ViT;
    m.vit.patch = patch;
    m.vit.width = width;
    m.vit.depth = depth;
    m.vit.heads = heads;
    m.summary = std::move(summary);
    return m;
}

ModelConfig swin_model(std::string name, int image_size, int embed_dim, std::vector<int> depths,
                       std::vector<int> heads, int window, std::string summary) {
    ModelConfig m;
    m.name = std::move(name);
    m.family = Family::Swin;
    m.swin.image_size = image_size;
    m.swin.embed_dim = embed_dim;
    m.swin.depths = std::move(depths);
    m.swin.heads = std::move(heads);
    m.swin.window = window;
    m.summary = std::move(summary);
    return m;
}

// The two small models trained on data/shapes.py's dataset (data/README.md).
const std::vector<std::string> kShapeClasses = {"circle", "square", "triangle", "cross", "ring"};

ModelConfig vit_shapes() {
    ModelConfig m = vit_model("vit_shapes", 8, 64, 4, 4, "tiny ViT trained on data/shapes.py, 64x64 input, 64 patches");
    m.vit.image_size = 64;
    m.vit.mlp_ratio = 2.0;
    m.vit.classes = 5;
    m.class_names = kShapeClasses;
    m.weights_file = "vit_shapes.safetensors";
    return m;
}

ModelConfig swin_shapes() {
    ModelConfig m = swin_model("swin_shapes", 64, 32, {2, 2, 2}, {2, 4, 8}, 4,
                               "tiny Swin trained on data/shapes.py, 64x64 input, 4x4 windows");
    m.swin.mlp_ratio = 2.0;
    m.swin.classes = 5;
    m.class_names = kShapeClasses;
    m.weights_file = "swin_shapes.safetensors";
    return m;
}

}  // namespace

const std::vector<ModelConfig>& builtin_models() {
    static const std::vector<ModelConfig> models = {
        vit_model("vit_tiny_patch16_224", 16, 192, 12, 3, "ViT-Ti/16, 224x224 input, 196 patches"),
        vit_model("vit_small_patch16_224", 16, 384, 12, 6, "ViT-S/16, 224x224 input, 196 patches"),
        vit_model("vit_base_patch16_224", 16, 768, 12, 12, "ViT-B/16, 224x224 input, 196 patches"),
        vit_model("vit_base_patch32_224", 32, 768, 12, 12, "ViT-B/32, 224x224 input, 49 patches"),
        vit_model("vit_large_patch16_224", 16, 1024, 24, 16, "ViT-L/16, 224x224 input, 196 patches"),
        swin_model("swin_tiny_patch4_window7_224", 224, 96, {2, 2, 6, 2}, {3, 6, 12, 24}, 7,
                   "Swin-T, 224x224 input, 7x7 windows"),
        swin_model("swin_small_patch4_window7_224", 224, 96, {2, 2, 18, 2}, {3, 6, 12, 24}, 7,
                   "Swin-S, 224x224 input, 7x7 windows"),
        swin_model("swin_base_patch4_window7_224", 224, 128, {2, 2, 18, 2}, {4, 8, 16, 32}, 7,
                   "Swin-B, 224x224 input, 7x7 windows"),
        swin_model("swin_large_patch4_window7_224", 224, 192, {2, 2, 18, 2}, {6, 12, 24, 48}, 7,
                   "Swin-L, 224x224 input, 7x7 windows"),
        swin_model("swin_base_patch4_window12_384", 384, 128, {2, 2, 18, 2}, {4, 8, 16, 32}, 12,
                   "Swin-B, 384x384 input, 12x12 windows"),
        vit_shapes(),
        swin_shapes(),
    };
    return models;
}

ModelConfig find_model(std::string_view name) {
    std::string known;
    for (const auto& m : builtin_models()) {
        if (m.name == name) return m;
        known += (known.empty() ? "" : ", ") + m.name;
    }
    throw Error(ErrorKind::Config, "unknown model '" + std::string(name) + "'; known models: " + known);
}

void apply_overrides(ModelConfig& target, const ConfigOverrides& o) {
    ModelConfig cfg = target;  // target changes only if the result is valid
    if (o.classes && *o.classes != cfg.classes()) cfg.class_names.clear();
    if (cfg.family == Family::ViT) {
        VitConfig& v = cfg.vit;
        auto single = [](const std::vector<int>& values, const char* what) {
            require(values.size() == 1, ErrorKind::Config,
                    std::string(what) + ": a ViT takes one number, got " + std::to_string(values.size()));
            return values[0];
        };
        require(!o.window, ErrorKind::Config, "window: a ViT has no windows (it attends globally)");
        if (o.image_size) v.image_size = *o.image_size;
        if (o.patch) v.patch = *o.patch;
        if (o.width) v.width = *o.width;
        if (o.depths) v.depth = single(*o.depths, "depth");
        if (o.heads) v.heads = single(*o.heads, "heads");
        if (o.mlp_ratio) v.mlp_ratio = *o.mlp_ratio;
        if (o.pool) v.pool = *o.pool;
        if (o.classes) v.classes = *o.classes;
        validate(v);
    } else {
        SwinConfig& w = cfg.swin;
        require(!o.pool || *o.pool == Pool::Mean, ErrorKind::Config,
                "pool: a Swin model has no cls token; it always pools the mean of its tokens");
        if (o.image_size) w.image_size = *o.image_size;
        if (o.patch) w.patch = *o.patch;
        if (o.width) w.embed_dim = *o.width;
        if (o.depths) w.depths = *o.depths;
        if (o.heads) w.heads = *o.heads;
        if (o.window) w.window = *o.window;
        if (o.mlp_ratio) w.mlp_ratio = *o.mlp_ratio;
        if (o.classes) w.classes = *o.classes;
        validate(w);
    }
    target = std::move(cfg);
}

Model make_model(const ModelConfig& cfg) {
    Model m;
    m.config = cfg;
    if (cfg.family == Family::ViT)
        m.vit = make_vit_weights(cfg.vit);
    else
        m.swin = make_swin_weights(cfg.swin);
    return m;
}

void visit_params(Model& m, const ParamFn& fn) {
    if (m.config.family == Family::ViT)
        visit_vit_params(m.vit, m.config.vit, fn);
    else
        visit_swin_params(m.swin, m.config.swin, fn);
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

void init_random(Model& m, uint64_t seed) {
    visit_params(m, [&](const std::string& name, Tensor& t, ParamKind kind, int64_t fan_in) {
        t.data.resize(t.numel());
        const int64_t n = t.numel();
        if (kind == ParamKind::NormScale || kind == ParamKind::NormShift) {
            std::fill(t.data.begin(), t.data.end(), kind == ParamKind::NormScale ? 1.0f : 0.0f);
            return;
        }
        const double bound = kind == ParamKind::Embedding ? 0.02 * std::sqrt(3.0) : 1.0 / std::sqrt((double)fan_in);
        const uint64_t key = splitmix64(seed) ^ fnv1a(name);
#pragma omp parallel for schedule(static) if (n > 65536)
        for (int64_t i = 0; i < n; i++) {
            const double u = (splitmix64(key + (uint64_t)i) >> 11) * 0x1.0p-53;  // [0, 1)
            t.data[i] = static_cast<float>((2.0 * u - 1.0) * bound);
        }
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

Tensor forward(const Model& m, const Tensor& image, Trace& trace) {
    if (m.config.family == Family::ViT) return vit_forward(m.config.vit, m.vit, image, trace);
    return swin_forward(m.config.swin, m.swin, image, trace);
}

}  // namespace vitrace

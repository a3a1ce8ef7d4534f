#include "report/collector.h"

#include <algorithm>
#include <cmath>

#include "report/blob.h"

namespace vitrace::report {

namespace {

constexpr HeadFusion kFusions[] = {HeadFusion::Mean, HeadFusion::Max, HeadFusion::Min};

// The shapes of cfg's forward pass, from a shape-only run: nothing is computed.
std::vector<Step> shape_only_steps(const ModelConfig& cfg) {
    const Model m = make_model(cfg);
    Trace trace;
    const int S = cfg.image_size();
    forward(m, Tensor::shape_only({3, S, S}), trace);
    return trace.steps();
}

}  // namespace

std::vector<float> pool_attention(const float* a, int64_t mats, int64_t N, int64_t P, int64_t g, int64_t f) {
    const int64_t gc = (g + f - 1) / f, Nc = P + gc * gc;
    auto cell = [&](int64_t t) { return t < P ? t : P + ((t - P) / g / f) * gc + ((t - P) % g) / f; };
    std::vector<float> out((size_t)(mats * Nc * Nc), 0.0f);
    std::vector<int64_t> per_cell((size_t)Nc, 0);
    for (int64_t t = 0; t < N; t++) per_cell[cell(t)]++;
    for (int64_t m = 0; m < mats; m++)
        for (int64_t q = 0; q < N; q++) {
            const float* a_q = &a[(m * N + q) * N];           // a[m, q, :]
            float* o_q = &out[(m * Nc + cell(q)) * Nc];       // out[m, cell(q), :]
            const float share = 1.0f / per_cell[cell(q)];
            for (int64_t k = 0; k < N; k++) o_q[cell(k)] += a_q[k] * share;
        }
    return out;
}

Collector::Collector(const ModelConfig& cfg) : cfg_(cfg), layers_(cfg.attention_layers()) {
    const std::vector<Step> steps = shape_only_steps(cfg);
    int64_t large = 4;  // the four input steps, which are large for any sizeable photograph
    for (const Step& s : steps) large += numel(s.shape) > kFullValues;
    pooled_limit_ = std::clamp<int64_t>(kPooledValuesBudget / large, 1024, kPooledValuesMax);
    if (cfg.family->reach == AttentionReach::Global) {
        // The coarsest grid cell that keeps every layer's attention within kAttentionValues.
        int64_t values = 0, P = 0, g = layers_.empty() ? 1 : layers_[0].grid;
        for (const Step& s : steps)
            if (s.at.role == Role::Softmax) values += s.shape[0], P = s.shape[1] - g * g;  // heads; N = P + g²
        // Cells of f x f patches, f dividing the grid so that every cell is whole; when no
        // such f fits (a prime grid), the layers are kept whole until the budget runs out.
        for (int64_t f = 1; f < g; f++) {
            const int64_t Nc = P + (g / f) * (g / f);
            if (g % f == 0 && values * Nc * Nc <= kAttentionValues) {
                pool_ = f;
                break;
            }
        }
        global_layers_.resize(layers_.size());
        distance_.resize(layers_.size());
        entropy_.resize(layers_.size());
    } else {
        stages_.resize(layers_.size());
    }
}

TraceOptions Collector::trace_options(std::vector<std::string> full_steps) {
    TraceOptions o;
    o.values = ValuesMode::Summary;
    asked_ = full_steps;
    o.full_steps = std::move(full_steps);
    o.on_values = [this](const Step& s, const Tensor& t) { take(s, t); };
    return o;
}

void Collector::take(const Step& s, const Tensor& t) {
    const bool asked = std::any_of(asked_.begin(), asked_.end(), [&](const std::string& g) { return glob_match(g, s.name); });
    if (asked || t.numel() <= kFullValues) {
        values_[s.index] = {{"kind", "full"}, {"pool", std::vector<int64_t>(t.shape.size(), 1)},
                            {"blob", f32_blob(t.ptr(), t.shape)}};
    } else {
        const std::vector<int64_t> pool = pool_to_fit(t.shape, pooled_limit_);
        const std::vector<float> means = pool_means(t.ptr(), t.shape, pool);
        values_[s.index] = {{"kind", "pooled"}, {"pool", pool}, {"blob", f16_blob(means.data(), pooled_shape(t.shape, pool))}};
    }
    if (cfg_.family->reach == AttentionReach::Global) {
        if (s.at.role == Role::Softmax) take_global(s, t);
    } else {
        take_windowed(s, t);
    }
}

// One ViT block's softmax [heads, N_q, N_k]: its rows, its heads' mean distance and
// entropy, and one more layer of rollout.
void Collector::take_global(const Step& s, const Tensor& attn) {
    const int l = s.at.block;
    const int64_t heads = attn.dim(0), N = attn.dim(1);
    const int64_t g = layers_[l].grid, P = N - g * g;  // P prefix tokens, then the g*g patches row by row
    const double px = (double)cfg_.image_size() / g;            // a patch's side in pixels
    tokens_ = N;

    const std::vector<float> kept = pool_ > 1 ? pool_attention(attn.ptr(), heads, N, P, g, pool_) : std::vector<float>();
    const int64_t Nc = P + (g / pool_) * (g / pool_);
    global_layers_[l] = {{"layer", l}, {"step", s.name}, {"heads", heads}, {"tokens", N}};
    if (attention_kept_ + heads * Nc * Nc <= kAttentionValues) {
        global_layers_[l]["probs"] = u8_rows_blob(pool_ > 1 ? kept.data() : attn.ptr(), {heads, Nc, Nc});
        attention_kept_ += heads * Nc * Nc;
    } else {
        global_layers_[l]["probs"] = nullptr;
        global_layers_[l]["note"] = "not in the page: the attention of all blocks would exceed " +
                                    std::to_string(kAttentionValues) + " values; trace a smaller image for it";
    }

    mean_attention_distance(distance_[l], attn, P, g, px);
    for (int64_t h = 0; h < heads; h++) {
        double entropy = 0;
        for (int64_t q = 0; q < N; q++) {
            const float* a_q = &attn[(h * N + q) * N];  // attn[h, q, :]
            for (int64_t k = 0; k < N; k++)
                if (a_q[k] > 0) entropy -= a_q[k] * std::log((double)a_q[k]);
        }
        entropy_[l].push_back(entropy / N);
    }
    if (N <= kRolloutTokens)
        for (int f = 0; f < 3; f++) rollout_step(rollout_[f], attn, kFusions[f]);
    prefix_ = P;
}

// Swin: each block's softmax [nW, heads, T_q, T_k] and bias table, each stage's
// relative position index, mask and patch merging.
void Collector::take_windowed(const Step& s, const Tensor& t) {
    if (s.at.stage < 0) return;
    Stage& st = stages_[s.at.stage];
    auto block = [&]() -> nlohmann::ordered_json& {
        if ((int)st.blocks.size() <= s.at.block) st.blocks.resize(s.at.block + 1);
        return st.blocks[s.at.block];
    };
    switch (s.at.role) {
        case Role::BiasTable: block()["bias_table"] = f32_blob(t.ptr(), t.shape); break;
        case Role::PositionIndex:
            if (st.index.is_null()) st.index = f32_blob(t.ptr(), t.shape);
            break;
        case Role::Mask:
            if (st.mask.is_null()) st.mask = u8_rows_blob(t.ptr(), t.shape);
            break;
        case Role::Merge: merged_shape_ = t.shape; break;
        case Role::Reduction:
            st.merge = {{"from", {merged_shape_[0] * 2, merged_shape_[1] * 2, merged_shape_[2] / 4}}, {"to", t.shape}};
            break;
        case Role::Softmax: {
            nlohmann::ordered_json& b = block();
            b["block"] = s.at.block;
            b["shift"] = s.at.shift;
            b["step"] = s.name;
            if (attention_kept_ + t.numel() <= kAttentionValues) {
                b["probs"] = u8_rows_blob(t.ptr(), t.shape);
                attention_kept_ += t.numel();
            } else {
                b["probs"] = nullptr;
                b["note"] = "not in the page: the attention of all blocks would exceed " +
                            std::to_string(kAttentionValues) + " values; trace a smaller image for it";
            }
            break;
        }
        default: break;
    }
}

nlohmann::ordered_json Collector::values(int index) const {
    const auto it = values_.find(index);
    return it == values_.end() ? nlohmann::ordered_json() : it->second;
}

nlohmann::ordered_json Collector::attention() const {
    const int S = cfg_.image_size();
    if (cfg_.family->reach == AttentionReach::Global) {
        const int g = layers_.empty() ? 1 : layers_[0].grid;
        nlohmann::ordered_json rollout = nullptr;
        std::string note;
        if (tokens_ <= kRolloutTokens) {
            rollout = nlohmann::ordered_json::object();
            for (int f = 0; f < 3; f++) {
                const Tensor& r = rollout_[f];
                const int64_t Nc = prefix_ + (g / pool_) * (g / pool_);
                const std::vector<float> kept = pool_ > 1 ? pool_attention(r.ptr(), 1, tokens_, prefix_, g, pool_) : std::vector<float>(r.data.begin(), r.data.end());
                rollout[head_fusion_name(kFusions[f])] = f32_blob(kept.data(), {Nc, Nc});
            }
        } else {
            note = "rollout multiplies " + std::to_string(tokens_) + " x " + std::to_string(tokens_) +
                   " matrices; the page computes it for at most " + std::to_string(kRolloutTokens) + " tokens";
        }
        return {{"kind", "global"},
                {"image_size", S},
                {"patch", S / g},
                {"grid", g},
                {"prefix", prefix_},
                {"pool", pool_},
                {"cells", g / pool_},
                {"layers", global_layers_},
                {"rollout", rollout},
                {"rollout_note", note},
                {"distance", distance_},
                {"entropy", entropy_},
                {"entropy_max", std::log((double)std::max<int64_t>(tokens_, 1))}};
    }
    nlohmann::ordered_json stages = nlohmann::ordered_json::array();
    for (size_t s = 0; s < stages_.size(); s++) {
        const AttentionLayer& l = layers_[s];
        stages.push_back({{"stage", s},
                          {"grid", l.grid},
                          {"window", l.window},
                          {"shift", l.shift},
                          {"heads", l.heads},
                          {"cell_px", S / l.grid},
                          {"index", stages_[s].index},
                          {"mask", stages_[s].mask},
                          {"blocks", stages_[s].blocks},
                          {"merge", stages_[s].merge}});
    }
    return {{"kind", "windowed"}, {"image_size", S}, {"patch", layers_.empty() ? S : S / layers_[0].grid}, {"stages", stages}};
}

}  // namespace vitrace::report

#include "core/cost.h"

namespace vitrace {

namespace {

bool ends_with(const std::string& s, const std::string& tail) {
    return s.size() >= tail.size() && s.compare(s.size() - tail.size(), tail.size(), tail) == 0;
}

// The row a step belongs to: "blocks.3" or "layers.1"; "" for embedding and head.
std::string layer_of(const std::string& step, Family family) {
    const std::string prefix = family == Family::ViT ? "blocks." : "layers.";
    if (step.rfind(prefix, 0) != 0) return "";
    const auto dot = step.find('.', prefix.size());
    return step.substr(0, dot);
}

}  // namespace

ModelCost model_cost(const ModelConfig& cfg) {
    const Model m = make_model(cfg);
    Trace trace;
    const int S = cfg.image_size();
    forward(m, Tensor::shape_only({3, S, S}), trace);

    ModelCost cost;
    cost.model = cfg.name;
    cost.image_size = S;
    for (const Step& s : trace.steps()) {
        cost.total_macs += s.macs;
        const std::string layer = layer_of(s.name, cfg.family);
        if (layer.empty()) {
            (s.name.rfind("patch_embed", 0) == 0 ? cost.embed_macs : cost.head_macs) += s.macs;
            continue;
        }
        if (cost.layers.empty() || cost.layers.back().name != layer) cost.layers.push_back({layer});
        LayerCost& row = cost.layers.back();
        if (ends_with(s.name, ".attn.qkv") || ends_with(s.name, ".attn.proj")) {
            row.projection_macs += s.macs;
        } else if (ends_with(s.name, ".attn.scores") || ends_with(s.name, ".attn.weighted_sum")) {
            row.attention_macs += s.macs;
        } else if (ends_with(s.name, ".mlp.fc1") || ends_with(s.name, ".mlp.fc2")) {
            row.mlp_macs += s.macs;
        } else {
            row.other_macs += s.macs;
        }
        if (ends_with(s.name, ".norm1")) {
            row.blocks++;
            row.channels = s.shape.back();
            row.tokens = numel(s.shape) / row.channels;
        }
        if (ends_with(s.name, ".attn.softmax")) {
            // [heads, N, N] for ViT, [windows, heads, T, T] for Swin
            row.matrix_side = s.shape.back();
            row.matrices = numel(s.shape) / (row.matrix_side * row.matrix_side);
            row.heads = s.shape[s.shape.size() - 3];
            row.score_bytes = row.matrices * row.matrix_side * row.matrix_side * 4;
        }
    }
    return cost;
}

}  // namespace vitrace

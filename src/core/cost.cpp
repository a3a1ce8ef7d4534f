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

MemoryEstimate estimate_memory(const ModelConfig& cfg, const TraceOptions& options) {
    const Model m = make_model(cfg);
    Trace trace(options);
    const int S = cfg.image_size();
    forward(m, Tensor::shape_only({3, S, S}), trace);

    MemoryEstimate e;
    e.weights_bytes = param_count(cfg) * 4;
    // A block's buffers live together; between blocks they are reused. The steps
    // outside the blocks (embedding, head) count as one more group.
    std::string group;
    int64_t group_bytes = 0, largest = 0;
    const std::string prefix = cfg.family == Family::ViT ? "blocks." : "layers.";
    for (const Step& s : trace.steps()) {
        std::string g;
        if (s.name.rfind(prefix, 0) == 0) {
            const auto blocks = s.name.find(".blocks.");
            const auto end = s.name.find('.', blocks == std::string::npos ? prefix.size() : blocks + 8);
            g = s.name.substr(0, end);
        }
        if (g != group) {
            largest = std::max(largest, group_bytes);
            group = g;
            group_bytes = 0;
        }
        const int64_t bytes = numel(s.shape) * 4;
        group_bytes += bytes;
        const ValuesMode mode = s.values_mode;
        e.trace_bytes += mode == ValuesMode::Full ? bytes : mode == ValuesMode::Summary ? kSummaryValues * 4 : 0;
    }
    e.activation_bytes = std::max(largest, group_bytes);
    return e;
}

}  // namespace vitrace

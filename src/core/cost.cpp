#include "core/cost.h"

namespace vitrace {

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
        const std::string layer = layer_name(s.at);
        if (layer.empty()) {
            // Before the first layer: the embedding; after the last: the head.
            (cost.layers.empty() ? cost.embed_macs : cost.head_macs) += s.macs;
            continue;
        }
        if (cost.layers.empty() || cost.layers.back().name != layer)
            cost.layers.push_back({layer, s.at.stage >= 0 ? s.at.stage : s.at.block});
        LayerCost& row = cost.layers.back();
        switch (cost_kind(s.at.role)) {
            case CostKind::Projection: row.projection_macs += s.macs; break;
            case CostKind::Attention: row.attention_macs += s.macs; break;
            case CostKind::Mlp: row.mlp_macs += s.macs; break;
            case CostKind::Other: row.other_macs += s.macs; break;
        }
        if (s.at.role == Role::Norm1) {
            row.blocks++;
            row.channels = s.shape.back();
            row.tokens = numel(s.shape) / row.channels;
        }
        if (s.at.role == Role::Softmax) {
            // [heads, N_q, N_k] for ViT, [windows, heads, T_q, T_k] for Swin
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
    // of a stage outside its blocks (Swin's patch merging) are one more group,
    // and so are the steps outside every layer (embedding, head).
    std::pair<int, int> group = {-1, -1};  // (stage, block)
    int64_t group_bytes = 0, largest = 0;
    for (const Step& s : trace.steps()) {
        const std::pair<int, int> g = {s.at.stage, s.at.block};
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

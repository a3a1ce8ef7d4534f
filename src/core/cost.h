// What a model costs, layer by layer: tokens, attention matrices, the memory
// their scores take, and the multiply-adds split into projections, attention,
// MLP and the rest. Every figure comes from the model's own forward pass run
// shape-only: the MACs are those the loops count (see core/macs.h),
// so they cannot drift from what the code does.
//
// For comparison, the closed forms (h·w tokens, C channels, window M):
//   ViT MSA per block    4·N·C² + 2·N²·C        projections + attention
//   Swin W-MSA per block 4·hw·C² + 2·M²·hw·C
#pragma once

#include <string>
#include <vector>

#include "core/model.h"

namespace vitrace {

struct LayerCost {
    std::string name;                 // "blocks.3" for a ViT block, "layers.1" for a Swin stage
    int index = 0;                    // 3, 1: the block or stage number
    int blocks = 0;                   // blocks in this row (1 for a ViT block)
    int64_t tokens = 0;               // tokens the blocks see: N, or H·W
    int64_t channels = 0;             // C
    int64_t heads = 0;
    int64_t matrices = 0;             // attention matrices per block: heads, or windows · heads
    int64_t matrix_side = 0;          // each is matrix_side × matrix_side: N, or M·M
    int64_t score_bytes = 0;          // float32 scores of one block: matrices · side² · 4
    int64_t projection_macs = 0;      // qkv and proj, all blocks of the row
    int64_t attention_macs = 0;       // q·kᵀ and attn·v
    int64_t mlp_macs = 0;             // fc1 and fc2
    int64_t other_macs = 0;           // patch merging at the start of a Swin stage
    int64_t total_macs() const { return projection_macs + attention_macs + mlp_macs + other_macs; }
};

struct ModelCost {
    std::string model;
    int image_size = 0;
    std::vector<LayerCost> layers;  // one per ViT block, one per Swin stage
    int64_t embed_macs = 0;         // the patch embedding
    int64_t head_macs = 0;          // the classifier head
    int64_t total_macs = 0;         // everything: equals the sum of every step's macs
};

// Runs cfg's forward pass shape-only and sums its steps' MACs by layer and kind.
ModelCost model_cost(const ModelConfig& cfg);

// What a run will allocate, estimated before anything is allocated.
struct MemoryEstimate {
    int64_t weights_bytes = 0;     // every parameter as float32
    int64_t activation_bytes = 0;  // the largest block's step outputs, all alive at once (an upper bound)
    int64_t trace_bytes = 0;       // the values the trace keeps (all of them for full-values steps)
    int64_t total() const { return weights_bytes + activation_bytes + trace_bytes; }
};

// From a shape-only run of cfg: nothing is allocated to make the estimate.
MemoryEstimate estimate_memory(const ModelConfig& cfg, const TraceOptions& options);

}  // namespace vitrace

// What the HTML page keeps of a run, gathered while the model runs: a copy of
// each step's values (all of them, or block means when the step is large) and
// the attention views' data (every softmax row, rollout, distance, entropy,
// Swin's index, mask and bias tables). The trace itself keeps summary values
// only, so the run never holds every step's values at once.
#pragma once

#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/family.h"
#include "core/model.h"
#include "core/rollout.h"
#include "core/trace.h"

namespace vitrace::report {

// A step with at most this many values carries all of them.
inline constexpr int64_t kFullValues = 32768;
// A larger step carries block means: at most this many values...
inline constexpr int64_t kPooledValuesMax = 16384;
// ...and all the large steps of a model together about this many.
inline constexpr int64_t kPooledValuesBudget = int64_t{4} << 20;
// Rollout multiplies N x N matrices: it is computed for at most this many tokens.
inline constexpr int64_t kRolloutTokens = 1024;
// The softmax values of all the attention layers the page keeps, at most. A
// ViT whose layers hold more is kept on a coarser grid (Collector::pool_); a
// Swin keeps its first blocks whole and says which it left out.
inline constexpr int64_t kAttentionValues = int64_t{8} << 20;

// Attention a [mats, N, N] over P prefix tokens and a g x g patch grid, on a
// grid of f x f patch cells, [mats, Nc, Nc] with Nc = P + ceil(g/f)²: a query
// cell's row is the mean of its patches' rows (what a patch in it sees, on
// average), a key cell's entry the sum over its patches (how much attention
// the cell gets); prefix queries and keys stay as they are.
std::vector<float> pool_attention(const float* a, int64_t mats, int64_t N, int64_t P, int64_t g, int64_t f);

class Collector {
public:
    // Steps that the trace keeps in full (TraceOptions::full_steps) carry all
    // their values whatever their size.
    explicit Collector(const ModelConfig& cfg);
    Collector(const Collector&) = delete;
    Collector& operator=(const Collector&) = delete;

    // The options to run with: summary values in the trace, all the values of
    // the steps that match full_steps, every step's values to this collector.
    TraceOptions trace_options(std::vector<std::string> full_steps);

    // After the run: the "values" of step `index` (null when none is kept)...
    nlohmann::ordered_json values(int index) const;
    // ...and the page's "attention" object.
    nlohmann::ordered_json attention() const;

private:
    void take(const Step& s, const Tensor& t);
    void take_global(const Step& s, const Tensor& attn);
    void take_windowed(const Step& s, const Tensor& t);

    ModelConfig cfg_;
    std::vector<AttentionLayer> layers_;
    int64_t pooled_limit_ = kPooledValuesMax;
    int64_t attention_kept_ = 0;  // softmax values kept so far
    std::map<int, nlohmann::ordered_json> values_;
    // The --steps globs: their steps keep all their values in the page, whatever
    // else the trace keeps in full (the attention pictures' maps).
    std::vector<std::string> asked_;

    // ViT: each query and key cell of the kept attention covers pool_ x pool_ patches
    int64_t pool_ = 1;
    std::vector<nlohmann::ordered_json> global_layers_;
    std::vector<std::vector<double>> distance_, entropy_;
    Tensor rollout_[3];  // by HeadFusion: mean, max, min
    int64_t tokens_ = 0, prefix_ = 0;

    // Swin, by stage
    struct Stage {
        nlohmann::ordered_json index, mask, merge;
        std::vector<nlohmann::ordered_json> blocks;
    };
    std::vector<Stage> stages_;
    Shape merged_shape_;  // the last downsample.merge step's shape
};

}  // namespace vitrace::report

// Two traces side by side, step by step: where do their numbers part?
//
// Steps are matched by name. For each step both hold with all its values:
// max |a-b|, max relative difference |a-b| / max(|a|, |b|), mean |a-b|, the
// cosine similarity, and the first element (as a multi-index) beyond the
// tolerance. Steps whose op has a known porting pitfall get a one-line hint,
// and some pitfalls are recognised outright (q/k/v order, patch order, GELU's
// tanh form).
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "io/tensor_dump.h"

namespace vitrace {

enum class DiffStatus {
    Compared,       // both hold all the values
    ShapeMismatch,  // same name, other shape: a divergence
    NoValues,       // one of them holds no full values for it (trace it with --values full or --tensors)
    OnlyInA,
    OnlyInB,
};
const char* diff_status_name(DiffStatus s);

struct StepDiff {
    std::string name, op;
    std::vector<std::string> dims;
    Shape shape_a, shape_b;
    DiffStatus status = DiffStatus::Compared;
    double max_abs = 0, max_rel = 0, mean_abs = 0, cosine = 1;
    std::vector<int64_t> first_beyond;  // the first element with |a-b| > tolerance; empty when none
    bool within = true;                 // compared and max |a-b| <= tolerance
    std::string hint;                   // for a divergent step whose op has a known pitfall
    std::string unseen;                 // a step only one file has: why the other's producer could not see it
};

struct DiffResult {
    double tolerance = 0;
    std::vector<StepDiff> steps;  // A's steps in order, then those only B has
    std::optional<size_t> first_divergence;
    int compared = 0, diverged = 0;
};

// Throws Error(Config) for traces of models of different families, and
// Error(Input) when the two have no step in common.
DiffResult diff_traces(const TraceFile& a, const TraceFile& b, double tolerance);

// A difference as the table prints it: "2.59e-04", "0", "inf".
std::string difference_str(double v);

// "[heads=3, N=0, N=17]": an index, or a shape, with the dimension names
std::string multi_index_str(const std::vector<int64_t>& index, const std::vector<std::string>& dims);

}  // namespace vitrace

// The trace: one record per step of a forward pass, in order.
//
// A model's forward function calls `trace.record(at, op, tensor, dims)` once
// after each step, where `at` says where the step stands (core/step.h) and
// gives it its name. The record keeps the shape, the dimension names, one-pass
// statistics, the multiply-adds and the time of that step, and as many of the
// values as the options ask for. It never computes anything of the model itself.
// Writing the trace as JSON is the I/O layer's job (io/trace_json.h).
#pragma once

#include <chrono>
#include <functional>
#include <initializer_list>
#include <string>
#include <string_view>
#include <vector>

#include "core/step.h"
#include "core/tensor.h"

namespace vitrace {

enum class ValuesMode { None, Summary, Full };

const char* values_mode_name(ValuesMode mode);
ValuesMode parse_values_mode(std::string_view name);  // throws Error(Usage)

// How many leading values a step carries in summary mode.
inline constexpr int kSummaryValues = 8;

struct Stats {
    double min = 0, max = 0, mean = 0, std = 0;  // std is the population std (divides by n)
    int64_t nonfinite = 0;                       // NaN and ±inf, left out of the four above
};

// One pass over the values: min, max, mean, std and the count of non-finite values.
Stats compute_stats(const float* x, int64_t n);

// A place in vitrace's source: the file as the compiler named it, and the line.
// (std::source_location would do, but clang 14, which builds the fuzzers, lacks it.)
struct SourcePlace {
    const char* file = "";
    int line = 0;
};

struct Step {
    int index = 0;
    std::string name;               // timm module path, e.g. "blocks.3.attn.softmax"
    StepAt at{};                    // where it stands: role, stage, block, window, shift
    std::string op;                 // what the step does, e.g. "softmax"
    Shape shape;                    // without the batch axis: the batch is always 1
    std::vector<std::string> dims;  // one name per axis, e.g. {"heads", "N_q", "N_k"}
    bool computed = false;          // false in shape-only runs: no stats, no values
    Stats stats;
    ValuesMode values_mode = ValuesMode::None;
    std::vector<float> values;      // all of them (Full), the first kSummaryValues (Summary), none;
                                    // always none in shape-only runs
    int64_t macs = 0;               // multiply-adds this step performed
    double time_ms = 0;             // wall time since the previous step was recorded
    SourcePlace source;             // the trace.record call in vitrace's source that recorded it
};

struct TraceOptions {
    ValuesMode values = ValuesMode::Summary;
    // Glob patterns ('*' any run of characters, '?' one). Steps whose name
    // matches one get all their values; the others get `values`, at most Summary.
    std::vector<std::string> full_steps = {};
    // Steps of these roles get all their values too (the pictures need them).
    std::vector<Role> full_roles = {};
    // Called with every computed step and all its values, whatever it keeps,
    // before the next step runs: for those that digest the values as they come
    // (the HTML report) instead of keeping them.
    std::function<void(const Step&, const Tensor&)> on_values = {};
};

bool glob_match(std::string_view pattern, std::string_view text);

class Trace {
public:
    explicit Trace(TraceOptions options = {});

    // Records `t` as the next step, named after `at`. `dims` names every axis of t.
    // `file` and `line` are the call site's, which the step keeps.
    void record(const StepAt& at, std::string_view op, const Tensor& t,
                std::initializer_list<std::string_view> dims, const char* file = __builtin_FILE(),
                int line = __builtin_LINE());
    void record(const StepAt& at, std::string_view op, const Tensor& t, const std::vector<std::string>& dims,
                const char* file = __builtin_FILE(), int line = __builtin_LINE());

    const std::vector<Step>& steps() const { return steps_; }
    const Step* find(std::string_view name) const;
    const Step* find(const StepAt& at) const;
    const TraceOptions& options() const { return options_; }

    // Patterns of options().full_steps that matched no step so far.
    std::vector<std::string> unmatched_patterns() const;

    // Called after each record; the command line uses it for its progress line.
    std::function<void(const Step&)> on_step;

    // Starts the clock for the next step's time_ms and drops uncounted MACs.
    void restart_clock();

    // Wall time spent inside record(): statistics, kept values, callbacks.
    // It belongs to no step's time_ms.
    double recording_ms() const { return recording_ms_; }

private:
    ValuesMode mode_for(const std::string& name, Role role);  // also marks the patterns that match

    TraceOptions options_;
    std::vector<Step> steps_;
    std::vector<bool> pattern_used_;
    std::chrono::steady_clock::time_point last_;
    double recording_ms_ = 0;
};

}  // namespace vitrace

#include "core/trace.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace vitrace {

const char* values_mode_name(ValuesMode mode) {
    switch (mode) {
        case ValuesMode::None: return "none";
        case ValuesMode::Summary: return "summary";
        case ValuesMode::Full: return "full";
    }
    return "none";
}

ValuesMode parse_values_mode(std::string_view name) {
    if (name == "none") return ValuesMode::None;
    if (name == "summary") return ValuesMode::Summary;
    if (name == "full") return ValuesMode::Full;
    throw Error(ErrorKind::Usage,
                "--values: expected none, summary or full, got '" + std::string(name) + "'");
}

Stats compute_stats(const float* x, int64_t n) {
    // One pass. Sums go in double so that mean and std stay exact to float
    // precision even for millions of values; the chunks run in parallel.
    double sum = 0, sumsq = 0;
    float mn = std::numeric_limits<float>::infinity();
    float mx = -std::numeric_limits<float>::infinity();
    int64_t bad = 0;
#pragma omp parallel for reduction(+ : sum, sumsq, bad) reduction(min : mn) reduction(max : mx) if (n > 65536)
    for (int64_t start = 0; start < n; start += 4096) {
        const int64_t end = std::min(n, start + 4096);
        float s = 0, ss = 0;  // float partial sums over one short chunk vectorise well
        for (int64_t i = start; i < end; i++) {
            const float v = x[i];
            if (!std::isfinite(v)) {
                bad++;
                continue;
            }
            s += v;
            ss += v * v;
            mn = std::min(mn, v);
            mx = std::max(mx, v);
        }
        sum += s;
        sumsq += ss;
    }
    Stats st;
    st.nonfinite = bad;
    const int64_t good = n - bad;
    if (good > 0) {
        st.min = mn;
        st.max = mx;
        st.mean = sum / good;
        st.std = std::sqrt(std::max(0.0, sumsq / good - st.mean * st.mean));
    }
    return st;
}

bool glob_match(std::string_view pattern, std::string_view text) {
    // Iterative matcher with one backtrack point: the most recent '*'.
    size_t p = 0, t = 0, star = std::string_view::npos, mark = 0;
    while (t < text.size()) {
        if (p < pattern.size() && (pattern[p] == '?' || pattern[p] == text[t])) {
            p++;
            t++;
        } else if (p < pattern.size() && pattern[p] == '*') {
            star = p++;
            mark = t;
        } else if (star != std::string_view::npos) {
            p = star + 1;
            t = ++mark;
        } else {
            return false;
        }
    }
    while (p < pattern.size() && pattern[p] == '*') p++;
    return p == pattern.size();
}

Trace::Trace(TraceOptions options)
    : options_(std::move(options)), pattern_used_(options_.full_steps.size(), false) {
    restart_clock();
}

void Trace::restart_clock() {
    take_macs();
    last_ = std::chrono::steady_clock::now();
}

ValuesMode Trace::mode_for(std::string_view name) {
    if (options_.full_steps.empty()) return options_.values;
    bool matched = false;
    for (size_t i = 0; i < options_.full_steps.size(); i++) {
        if (glob_match(options_.full_steps[i], name)) {
            pattern_used_[i] = true;
            matched = true;
        }
    }
    return matched ? ValuesMode::Full : std::min(options_.values, ValuesMode::Summary);
}

void Trace::record(std::string_view name, std::string_view op, const Tensor& t,
                   std::initializer_list<std::string_view> dims) {
    const auto now = std::chrono::steady_clock::now();
    if (static_cast<int>(dims.size()) != t.rank())
        throw Error(ErrorKind::Internal, "trace step " + std::string(name) + ": " +
                                             std::to_string(dims.size()) +
                                             " dimension names for shape " + shape_str(t.shape));
    Step s;
    s.index = static_cast<int>(steps_.size());
    s.name = name;
    s.op = op;
    s.shape = t.shape;
    s.dims.assign(dims.begin(), dims.end());
    s.macs = take_macs();
    s.time_ms = std::chrono::duration<double, std::milli>(now - last_).count();
    s.computed = t.has_data();
    s.values_mode = mode_for(name);  // also in shape-only runs, which estimate what a real run keeps
    if (s.computed) {
        s.stats = compute_stats(t.ptr(), t.numel());
        if (s.values_mode == ValuesMode::Full) {
            s.values = t.data;
        } else if (s.values_mode == ValuesMode::Summary) {
            const int64_t k = std::min<int64_t>(kSummaryValues, t.numel());
            s.values.assign(t.data.begin(), t.data.begin() + k);
        }
    }
    steps_.push_back(std::move(s));
    if (on_step) on_step(steps_.back());
    last_ = std::chrono::steady_clock::now();  // recording is not part of the next step's time
}

const Step* Trace::find(std::string_view name) const {
    for (const auto& s : steps_)
        if (s.name == name) return &s;
    return nullptr;
}

std::vector<std::string> Trace::unmatched_patterns() const {
    std::vector<std::string> out;
    for (size_t i = 0; i < options_.full_steps.size(); i++)
        if (!pattern_used_[i]) out.push_back(options_.full_steps[i]);
    return out;
}

}  // namespace vitrace

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
    // One pass over chunks, each chunk a vectorised loop without branches; the
    // chunks run in parallel and their sums add up in double. A NaN or infinity makes the sums non-finite: only
    // then does a slower pass run that leaves such values out and counts them.
    //
    // Each chunk sums in kLanes fixed lanes of doubles (lane j takes elements
    // j, j+16, …) that are added in a fixed order at the end: the inner loop
    // vectorises on any CPU, and the sums, so the printed statistics, are the
    // same whatever the vector width. Doubles, because the variance comes from
    // E[x²] − E[x]², which cancels digits: float sums of pixel values lose the
    // fourth decimal of the std.
    constexpr int64_t kChunk = 4096;
    constexpr int kLanes = 16;
    double sum = 0, sumsq = 0;
    float mn = std::numeric_limits<float>::infinity();
    float mx = -std::numeric_limits<float>::infinity();
#pragma omp parallel for reduction(+ : sum, sumsq) reduction(min : mn) reduction(max : mx) if (n > 65536)
    for (int64_t start = 0; start < n; start += kChunk) {
        const int64_t end = std::min(n, start + kChunk);
        double s[kLanes] = {}, ss[kLanes] = {};
        float lo[kLanes], hi[kLanes];
        for (int j = 0; j < kLanes; j++) lo[j] = x[start], hi[j] = x[start];
        auto add = [&](int j, float v) {  // value v into lane j
            s[j] += v;
            ss[j] += (double)v * v;
            lo[j] = v < lo[j] ? v : lo[j];  // (std::min returns a reference, which keeps GCC from vectorising)
            hi[j] = v > hi[j] ? v : hi[j];
        };
        int64_t i = start;
        for (; i + kLanes <= end; i += kLanes)
            for (int j = 0; j < kLanes; j++) add(j, x[i + j]);
        for (int j = 0; i < end; i++, j++) add(j, x[i]);  // the last, partial row of lanes
        double chunk_s = 0, chunk_ss = 0;
        for (int j = 0; j < kLanes; j++) {
            chunk_s += s[j];
            chunk_ss += ss[j];
            mn = std::min(mn, lo[j]);
            mx = std::max(mx, hi[j]);
        }
        sum += chunk_s;
        sumsq += chunk_ss;
    }
    Stats st;
    int64_t good = n;
    if (!std::isfinite(sum) || !std::isfinite(sumsq)) {
        sum = sumsq = 0;
        mn = std::numeric_limits<float>::infinity();
        mx = -mn;
        for (int64_t i = 0; i < n; i++) {
            if (!std::isfinite(x[i])) {
                st.nonfinite++;
                continue;
            }
            sum += x[i];
            sumsq += (double)x[i] * x[i];
            mn = std::min(mn, x[i]);
            mx = std::max(mx, x[i]);
        }
        good = n - st.nonfinite;
    }
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

ValuesMode Trace::mode_for(const std::string& name, Role role) {
    bool by_role = false;
    for (Role r : options_.full_roles) by_role |= r == role;
    if (options_.full_steps.empty()) return by_role ? ValuesMode::Full : options_.values;
    bool matched = false;
    for (size_t i = 0; i < options_.full_steps.size(); i++) {
        if (glob_match(options_.full_steps[i], name)) {
            pattern_used_[i] = true;
            matched = true;
        }
    }
    return matched || by_role ? ValuesMode::Full : std::min(options_.values, ValuesMode::Summary);
}

void Trace::record(const StepAt& at, std::string_view op, const Tensor& t,
                   std::initializer_list<std::string_view> dims, const char* file, int line) {
    record(at, op, t, std::vector<std::string>(dims.begin(), dims.end()), file, line);
}

void Trace::record(const StepAt& at, std::string_view op, const Tensor& t, const std::vector<std::string>& dims,
                   const char* file, int line) {
    const auto now = std::chrono::steady_clock::now();
    Step s;
    s.name = step_name(at);
    if (static_cast<int>(dims.size()) != t.rank())
        throw Error(ErrorKind::Internal, "trace step " + s.name + ": " + std::to_string(dims.size()) +
                                             " dimension names for shape " + shape_str(t.shape));
    s.index = static_cast<int>(steps_.size());
    s.at = at;
    s.op = op;
    s.shape = t.shape;
    s.dims = dims;
    s.macs = take_macs();
    s.time_ms = std::chrono::duration<double, std::milli>(now - last_).count();
    s.source = {file, line};
    s.computed = t.has_data();
    s.values_mode = mode_for(s.name, at.role);  // also in shape-only runs, which estimate what a real run keeps
    if (s.computed) {
        s.stats = compute_stats(t.ptr(), t.numel());
        if (s.values_mode == ValuesMode::Full) {
            s.values.assign(t.data.begin(), t.data.end());
        } else if (s.values_mode == ValuesMode::Summary) {
            const int64_t k = std::min<int64_t>(kSummaryValues, t.numel());
            s.values.assign(t.data.begin(), t.data.begin() + k);
        }
    }
    steps_.push_back(std::move(s));
    if (options_.on_values && steps_.back().computed) options_.on_values(steps_.back(), t);
    if (on_step) on_step(steps_.back());
    last_ = std::chrono::steady_clock::now();  // recording is not part of the next step's time
    recording_ms_ += std::chrono::duration<double, std::milli>(last_ - now).count();
}

const Step* Trace::find(std::string_view name) const {
    for (const auto& s : steps_)
        if (s.name == name) return &s;
    return nullptr;
}

const Step* Trace::find(const StepAt& at) const { return find(step_name(at)); }

std::vector<std::string> Trace::unmatched_patterns() const {
    std::vector<std::string> out;
    for (size_t i = 0; i < options_.full_steps.size(); i++)
        if (!pattern_used_[i]) out.push_back(options_.full_steps[i]);
    return out;
}

}  // namespace vitrace

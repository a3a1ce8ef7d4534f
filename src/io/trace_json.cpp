#include "io/trace_json.h"

#include <charconv>
#include <cmath>

namespace vitrace {

namespace {

// A small streaming writer: the steps can hold hundreds of megabytes of
// values, so they go out through one buffer instead of a JSON tree.
class JsonStream {
public:
    explicit JsonStream(std::FILE* f) : f_(f) { buf_.reserve(kChunk + 4096); }
    ~JsonStream() { flush(); }

    void raw(std::string_view s) {
        buf_.append(s);
        if (buf_.size() >= kChunk) flush();
    }
    void num(float v) {
        if (!std::isfinite(v)) return raw("null");
        char tmp[32];
        auto r = std::to_chars(tmp, tmp + sizeof tmp, v);
        raw(std::string_view(tmp, r.ptr - tmp));
    }
    void num(int64_t v) {
        char tmp[24];
        auto r = std::to_chars(tmp, tmp + sizeof tmp, v);
        raw(std::string_view(tmp, r.ptr - tmp));
    }
    void floats(const float* v, size_t n) {
        raw("[");
        for (size_t i = 0; i < n; i++) {
            if (i) raw(",");
            num(v[i]);
        }
        raw("]");
    }
    void json(const nlohmann::ordered_json& j) { raw(j.dump()); }
    void flush() {
        if (!buf_.empty()) std::fwrite(buf_.data(), 1, buf_.size(), f_);
        buf_.clear();
    }

private:
    static constexpr size_t kChunk = 1 << 20;
    std::FILE* f_;
    std::string buf_;
};

}  // namespace

nlohmann::ordered_json config_json(const ConfigValue& v) {
    return std::visit(
        [](const auto& x) -> nlohmann::ordered_json {
            using T = std::decay_t<decltype(x)>;
            if constexpr (std::is_same_v<T, std::vector<ConfigRecord>>) {
                nlohmann::ordered_json list = nlohmann::ordered_json::array();
                for (const ConfigRecord& r : x) list.push_back(config_json(r));
                return list;
            } else {
                return x;
            }
        },
        v.value);
}

nlohmann::ordered_json config_json(const ConfigRecord& r) {
    nlohmann::ordered_json j = nlohmann::ordered_json::object();
    for (const auto& [key, value] : r) j[key] = config_json(value);
    return j;
}

nlohmann::ordered_json model_json(const ModelConfig& cfg, const WeightsInfo& weights) {
    const nlohmann::ordered_json config = config_json(config_record(cfg));
    nlohmann::ordered_json m = {{"name", cfg.name},
                                {"family", cfg.family->name},
                                {"config", config},
                                {"parameters", param_count(cfg)},
                                {"trained", weights.trained},
                                {"weights", weights.path.empty() ? nlohmann::ordered_json() : nlohmann::ordered_json(weights.path)},
                                {"weights_layout", weights.layout.empty() ? nlohmann::ordered_json() : nlohmann::ordered_json(weights.layout)},
                                {"seed", weights.path.empty() ? nlohmann::ordered_json(weights.seed) : nlohmann::ordered_json()}};
    return m;
}

void write_trace_json(std::FILE* f, const nlohmann::ordered_json& model, const nlohmann::ordered_json& input,
                      const Trace& trace, const ModelOutput& out, const std::vector<Prediction>& top,
                      const nlohmann::ordered_json* extra) {
    JsonStream w(f);
    w.raw("{\"format\":\"");
    w.raw(kTraceFormat);
    w.raw("\",\"model\":");
    w.json(model);
    w.raw(",\"input\":");
    w.json(input);
    w.raw(",\"values\":");
    w.json(values_mode_name(trace.options().values));
    w.raw(",\"full_steps\":");
    w.json(trace.options().full_steps);

    int64_t total_macs = 0;
    double total_ms = 0;
    w.raw(",\"steps\":[");
    for (const Step& s : trace.steps()) {
        total_macs += s.macs;
        total_ms += s.time_ms;
        w.raw(s.index ? ",\n{" : "\n{");
        w.raw("\"index\":");
        w.num(static_cast<int64_t>(s.index));
        w.raw(",\"name\":");
        w.json(s.name);
        w.raw(",\"op\":");
        w.json(s.op);
        w.raw(",\"shape\":");
        w.json(s.shape);
        w.raw(",\"dims\":");
        w.json(s.dims);
        w.raw(",\"stats\":");
        if (s.computed) {
            w.raw("{\"min\":");
            w.num(static_cast<float>(s.stats.min));
            w.raw(",\"max\":");
            w.num(static_cast<float>(s.stats.max));
            w.raw(",\"mean\":");
            w.num(static_cast<float>(s.stats.mean));
            w.raw(",\"std\":");
            w.num(static_cast<float>(s.stats.std));
            w.raw(",\"nonfinite\":");
            w.num(s.stats.nonfinite);
            w.raw("}");
        } else {
            w.raw("null");
        }
        w.raw(",\"values_mode\":\"");
        w.raw(values_mode_name(s.values_mode));
        w.raw("\",\"values\":");
        if (s.values_mode == ValuesMode::None)
            w.raw("null");
        else
            w.floats(s.values.data(), s.values.size());
        w.raw(",\"macs\":");
        w.num(s.macs);
        w.raw(",\"time_ms\":");
        w.num(static_cast<float>(s.time_ms));
        w.raw("}");
    }
    w.raw("\n],\"totals\":{\"macs\":");
    w.num(total_macs);
    w.raw(",\"time_ms\":");
    w.num(static_cast<float>(total_ms));
    w.raw("},\"output\":{");
    if (!out.logits.shape.empty()) {
        w.raw("\"logits\":");
        if (out.logits.has_data())
            w.floats(out.logits.ptr(), out.logits.data.size());
        else
            w.raw("null");
        w.raw(",\"top5\":[");
        for (size_t i = 0; i < top.size(); i++) {
            if (i) w.raw(",");
            w.raw("{\"index\":");
            w.num(static_cast<int64_t>(top[i].index));
            w.raw(",\"label\":");
            w.json(top[i].label.empty() ? nlohmann::ordered_json() : nlohmann::ordered_json(top[i].label));
            w.raw(",\"score\":");
            w.num(static_cast<float>(top[i].score));
            w.raw("}");
        }
        w.raw("],");
    }
    w.raw("\"features\":");
    if (out.features.has_data() && !out.features.shape.empty())
        w.floats(out.features.ptr(), out.features.data.size());
    else
        w.raw("null");
    w.raw("}");
    if (extra)
        for (const auto& [key, value] : extra->items()) {
            w.raw(",");
            w.json(key);
            w.raw(":");
            w.json(value);
        }
    w.raw("}\n");
}

}  // namespace vitrace

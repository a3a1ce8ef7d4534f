#include "cli/table.h"

#include <algorithm>
#include <cmath>

#include "cli/format.h"

namespace vitrace::cli {

void Table::print(std::FILE* out) const {
    std::vector<size_t> width(header.size(), 0);
    for (size_t c = 0; c < header.size(); c++) width[c] = header[c].size();
    for (const auto& r : rows)
        for (size_t c = 0; c < r.size() && c < width.size(); c++) width[c] = std::max(width[c], r[c].size());
    auto line = [&](const std::vector<std::string>& r) {
        std::string s;
        for (size_t c = 0; c < width.size(); c++) {
            const std::string cell = c < r.size() ? r[c] : "";
            const std::string pad(width[c] - cell.size(), ' ');
            const bool last = c + 1 == width.size();
            s += (c ? "  " : "") + (c < right.size() && right[c] ? pad + cell : (last ? cell : cell + pad));
        }
        std::fprintf(out, "%s\n", s.c_str());
    };
    line(header);
    for (const auto& r : rows) line(r);
}

std::string named_shape(const Step& s) {
    std::string out = "[";
    for (size_t i = 0; i < s.shape.size(); i++) {
        if (i) out += ", ";
        out += (i < s.dims.size() ? s.dims[i] + "=" : "") + std::to_string(s.shape[i]);
    }
    return out + "]";
}

std::string fixed(double v, int decimals) {
    if (std::isnan(v)) return "nan";
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.*f", decimals, v);
    // "-0.0000" reads as a sign that is not there
    if (std::string(buf).find_first_not_of("-0.") == std::string::npos) std::snprintf(buf, sizeof buf, "%.*f", decimals, 0.0);
    return buf;
}

Table stats_table(const Trace& trace) {
    Table t{{"#", "step", "shape", "min", "max", "mean", "std"}, {true, false, false, true, true, true, true}, {}};
    for (const Step& s : trace.steps()) {
        std::vector<std::string> r = {std::to_string(s.index), s.name, named_shape(s)};
        if (s.computed) {
            for (double v : {s.stats.min, s.stats.max, s.stats.mean, s.stats.std}) r.push_back(fixed(v));
            if (s.stats.nonfinite) r.back() += "  (" + std::to_string(s.stats.nonfinite) + " non-finite)";
        }
        t.rows.push_back(std::move(r));
    }
    return t;
}

Table shapes_table(const Trace& trace) {
    Table t{{"#", "step", "op", "shape", "MACs"}, {true, false, false, false, true}, {}};
    for (const Step& s : trace.steps())
        t.rows.push_back({std::to_string(s.index), s.name, s.op, named_shape(s), s.macs ? human_count((double)s.macs) : "-"});
    return t;
}

}  // namespace vitrace::cli

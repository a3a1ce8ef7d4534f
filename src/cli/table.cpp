#include "cli/table.h"

#include <algorithm>
#include <cmath>
#include <map>

#include "cli/format.h"

namespace vitrace::cli {

void Table::print(std::FILE* out, int max_width) const {
    std::vector<size_t> width(header.size(), 0);
    for (size_t c = 0; c < header.size(); c++) width[c] = header[c].size();
    for (const auto& r : rows)
        for (size_t c = 0; c < r.size() && c < width.size(); c++) width[c] = std::max(width[c], r[c].size());
    // Narrow the spill column to what the others leave of max_width, but keep
    // it as wide as its header and most of its cells (at least 24 characters).
    if (spill >= 0 && spill < (int)width.size() && max_width > 0) {
        size_t total = 0;
        for (size_t w : width) total += w + 2;
        total -= 2;
        if (total > (size_t)max_width) {
            const size_t others = total - width[spill];
            const size_t floor = std::max<size_t>(24, header[spill].size());
            width[spill] = std::max(floor, (size_t)max_width > others ? (size_t)max_width - others : 0);
        }
    }
    auto line = [&](const std::vector<std::string>& r) {
        std::string s;
        for (size_t c = 0; c < width.size(); c++) {
            const std::string cell = c < r.size() ? r[c] : "";
            const std::string pad(width[c] - std::min(width[c], cell.size()), ' ');
            const bool last = c + 1 == width.size();
            s += (c ? "  " : "") + (c < right.size() && right[c] ? pad + cell : (last ? cell : cell + pad));
        }
        while (!s.empty() && s.back() == ' ') s.pop_back();
        std::fprintf(out, "%s\n", s.c_str());
    };
    auto note_lines = [&](size_t i) {
        for (const auto& [at, text] : notes)
            if (at == i) std::fprintf(out, "%s\n", text.c_str());
    };
    line(header);
    for (size_t i = 0; i < rows.size(); i++) {
        note_lines(i);
        const auto& r = rows[i];
        if (spill >= 0 && spill < (int)r.size() && r[spill].size() > width[spill]) {
            // The long cell on a line of its own, after the cells before it; then the row without them.
            line(std::vector<std::string>(r.begin(), r.begin() + spill + 1));
            std::vector<std::string> rest = r;
            std::fill(rest.begin(), rest.begin() + spill + 1, "");
            line(rest);
        } else {
            line(r);
        }
    }
    note_lines(rows.size());
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
    Table t{{"#", "step", "shape", "min", "max", "mean", "std"}, {true, false, false, true, true, true, true}, {}, 1};
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

namespace {

// What makes two blocks the same to a reader of the shapes table: every
// step's leaf, op, shape, dims and MACs, in order.
std::string block_signature(const std::vector<const Step*>& steps) {
    std::string sig;
    for (const Step* s : steps) {
        sig += role_leaf(s->at.role) + std::string("|") + s->op + "|" + named_shape(*s) + "|" + std::to_string(s->macs) +
               ";";
    }
    return sig;
}

// "... blocks.1 to blocks.11 (11 blocks): the same steps, shapes and MACs as
// blocks.0", or, when two kinds alternate, "... (4 blocks): as
// layers.2.blocks.0 and layers.2.blocks.1, in turn".
std::string repeat_note(const std::vector<std::string>& run, const std::vector<std::string>& like) {
    std::string text = "     ... " + run.front() + (run.size() > 1 ? " to " + run.back() : "") + " (" +
                       std::to_string(run.size()) + (run.size() == 1 ? " block" : " blocks") + "): ";
    std::vector<std::string> distinct;
    for (const std::string& l : like)
        if (std::find(distinct.begin(), distinct.end(), l) == distinct.end()) distinct.push_back(l);
    if (distinct.size() == 1) return text + "the same steps, shapes and MACs as " + distinct[0];
    text += "as ";
    for (size_t i = 0; i < distinct.size(); i++) text += (i ? (i + 1 == distinct.size() ? " and " : ", ") : "") + distinct[i];
    return text + ", in turn";
}

}  // namespace

Table shapes_table(const Trace& trace, const std::vector<std::string>& globs, bool first_blocks) {
    Table t{{"#", "step", "op", "shape", "MACs"}, {true, false, false, false, true}, {}, 1};
    // The blocks in order, each with its steps.
    std::vector<std::pair<std::string, std::vector<const Step*>>> blocks;
    for (const Step& s : trace.steps()) {
        if (!s.at.in_block()) continue;
        const std::string b = block_name(s.at);
        if (blocks.empty() || blocks.back().first != b) blocks.push_back({b, {}});
        blocks.back().second.push_back(&s);
    }
    // A block repeats an earlier shown one when their signatures agree.
    std::map<std::string, std::string> repeats;  // block -> the shown block it repeats
    if (first_blocks) {
        std::map<std::string, std::string> shown;  // signature -> block
        for (const auto& [name, steps] : blocks) {
            const std::string sig = block_signature(steps);
            auto [it, fresh] = shown.insert({sig, name});
            if (!fresh) repeats[name] = it->second;
        }
    }
    std::vector<std::string> run, like;  // the run of left-out blocks being gathered
    auto close_run = [&] {
        if (!run.empty()) t.notes.push_back({t.rows.size(), repeat_note(run, like)});
        run.clear();
        like.clear();
    };
    for (const Step& s : trace.steps()) {
        if (s.at.in_block()) {
            const std::string b = block_name(s.at);
            if (auto it = repeats.find(b); it != repeats.end()) {
                if (run.empty() || run.back() != b) {
                    run.push_back(b);
                    like.push_back(it->second);
                }
                continue;
            }
        }
        if (!globs.empty() && std::none_of(globs.begin(), globs.end(), [&](const std::string& g) { return glob_match(g, s.name); }))
            continue;
        close_run();
        t.rows.push_back({std::to_string(s.index), s.name, s.op, named_shape(s), s.macs ? human_count((double)s.macs) : "-"});
    }
    close_run();
    return t;
}

}  // namespace vitrace::cli

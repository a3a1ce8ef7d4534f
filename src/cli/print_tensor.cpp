#include "cli/print_tensor.h"

#include <algorithm>
#include <cmath>
#include <string>

#include "cli/errors.h"
#include "cli/table.h"

namespace vitrace::cli {

std::vector<ShowPattern> parse_show(const std::string& list) {
    std::vector<ShowPattern> out;
    std::string item;
    int depth = 0;
    auto flush = [&] {
        const size_t first = item.find_first_not_of(' '), last = item.find_last_not_of(' ');
        if (first == std::string::npos) return item.clear();
        const std::string text = item.substr(first, last - first + 1);
        item.clear();
        const size_t open = text.find('[');
        if (open == std::string::npos) return out.push_back({text, "", text});
        if (text.back() != ']')
            throw Error(ErrorKind::Usage, "--show '" + text + "': a slice ends with ']', as in 'blocks.0.attn.softmax[0, :8]'");
        out.push_back({text.substr(0, open), text.substr(open + 1, text.size() - open - 2), text});
    };
    for (char c : list) {
        if (c == '[') depth++;
        if (c == ']') depth--;
        if (c == ',' && depth == 0) {
            flush();
            continue;
        }
        item += c;
    }
    if (depth != 0) throw Error(ErrorKind::Usage, "--show '" + list + "': a '[' is not closed");
    flush();
    return out;
}

namespace {

std::string dims_list(const Step& s) {
    std::string out;
    for (size_t d = 0; d < s.dims.size(); d++) out += (d ? ", " : "") + s.dims[d] + " " + std::to_string(s.shape[d]);
    return out;
}

// One index along an axis of n entries: i, or -i counted from the end.
int64_t parse_index(const std::string& text, int64_t n, bool end_allowed, const std::string& where) {
    size_t used = 0;
    int64_t i = 0;
    try {
        i = std::stoll(text, &used);
    } catch (const std::exception&) {
        used = 0;
    }
    if (used != text.size()) throw Error(ErrorKind::Usage, where + ": '" + text + "' is not an index");
    if (i < 0) i += n;
    if (i < 0 || i > n || (i == n && !end_allowed))
        throw Error(ErrorKind::Usage, where + ": index " + text + " is outside 0.." + std::to_string(n - 1));
    return i;
}

}  // namespace

std::vector<AxisRange> slice_of(const ShowPattern& p, const Step& s) {
    std::vector<AxisRange> view;
    for (int64_t n : s.shape) view.push_back({0, n, false});
    if (p.slice.empty()) return view;
    std::vector<std::string> items;
    size_t start = 0;
    while (true) {
        const size_t comma = p.slice.find(',', start);
        items.push_back(p.slice.substr(start, comma == std::string::npos ? std::string::npos : comma - start));
        if (comma == std::string::npos) break;
        start = comma + 1;
    }
    if (items.size() > s.shape.size())
        throw Error(ErrorKind::Usage, "--show '" + p.text + "': " + s.name + " has " + std::to_string(s.shape.size()) +
                                          " axes (" + dims_list(s) + "), the slice names " + std::to_string(items.size()));
    for (size_t d = 0; d < items.size(); d++) {
        std::string t = items[d];
        t.erase(std::remove(t.begin(), t.end(), ' '), t.end());
        const std::string where = "--show '" + p.text + "', axis " + std::to_string(d) + " (" + s.dims[d] + " " +
                                  std::to_string(s.shape[d]) + ")";
        const size_t colon = t.find(':');
        if (colon == std::string::npos) {
            const int64_t i = parse_index(t, s.shape[d], false, where);
            view[d] = {i, i + 1, true};
            continue;
        }
        const std::string a = t.substr(0, colon), b = t.substr(colon + 1);
        view[d].begin = a.empty() ? 0 : parse_index(a, s.shape[d], true, where);
        view[d].end = b.empty() ? s.shape[d] : parse_index(b, s.shape[d], true, where);
        if (view[d].end <= view[d].begin) throw Error(ErrorKind::Usage, where + ": the range " + t + " is empty");
    }
    return view;
}

namespace {

// Whole numbers (an index, a count, a region label) print without decimals.
bool whole_numbers(const std::vector<float>& v) {
    return std::all_of(v.begin(), v.end(), [](float x) { return std::isfinite(x) && x == std::round(x) && std::fabs(x) < 1e9f; });
}

std::string cell_text(float v, bool whole) {
    return whole ? std::to_string(static_cast<long long>(v)) : fixed(v);
}

// The matrix at `base` with the given rows and columns (indices along their
// axes, -1 for a "..." gap), the row index along row_stride, the column along col_stride.
struct Matrix {
    const float* base;
    int64_t row_stride, col_stride;
    std::string row_dim, col_dim;  // row_dim empty: a single row, unlabelled
    std::vector<int64_t> rows, cols;
};

void print_matrix(std::FILE* out, const Matrix& m, int columns, const std::string& indent, bool whole) {
    int label_width = 0;
    for (int64_t r : m.rows)
        label_width = std::max<int>(label_width, m.row_dim.empty() ? 0 : (int)(m.row_dim.size() + 1 + std::to_string(std::max<int64_t>(r, 0)).size()));
    int64_t widest = 0;
    for (int64_t c : m.cols) widest = std::max(widest, c);
    // Cells wide enough for "-12.3456" and for the widest column label.
    const int cell = std::max<int>(whole ? 6 : 9, (int)(m.col_dim.size() + 1 + std::to_string(widest).size()));
    for (size_t c0 = 0; c0 < m.cols.size(); c0 += columns) {
        const size_t c1 = std::min(m.cols.size(), c0 + columns);
        // column header: the index of each column along its axis
        std::string header(indent.size() + label_width, ' ');
        for (size_t k = c0; k < c1; k++) {
            const std::string label = m.cols[k] < 0 ? "..." : m.col_dim + "=" + std::to_string(m.cols[k]);
            header.append(1 + std::max<int>(0, cell - (int)label.size()), ' ');  // a space, then right-aligned
            header += label;
        }
        std::fprintf(out, "%s\n", header.c_str());
        for (int64_t r : m.rows) {
            const std::string label = m.row_dim.empty() ? "" : r < 0 ? "..." : m.row_dim + "=" + std::to_string(r);
            std::string line = indent + label + std::string(label_width - label.size(), ' ');
            for (size_t k = c0; k < c1; k++) {
                const std::string value =
                    r < 0 || m.cols[k] < 0 ? "..." : cell_text(m.base[r * m.row_stride + m.cols[k] * m.col_stride], whole);
                line.append(1 + std::max<int>(0, cell - (int)value.size()), ' ');
                line += value;
            }
            std::fprintf(out, "%s\n", line.c_str());
        }
    }
}

std::vector<int64_t> indices(const AxisRange& r) {
    std::vector<int64_t> out;
    for (int64_t i = r.begin; i < r.end; i++) out.push_back(i);
    return out;
}

// The first `head` and last `tail` of [begin, end), with a -1 gap between when they do not meet.
std::vector<int64_t> corners(const AxisRange& r, int64_t head, int64_t tail) {
    if (r.end - r.begin <= head + tail + 1) return indices(r);
    std::vector<int64_t> out;
    for (int64_t i = r.begin; i < r.begin + head; i++) out.push_back(i);
    out.push_back(-1);
    for (int64_t i = r.end - tail; i < r.end; i++) out.push_back(i);
    return out;
}

}  // namespace

std::string step_header(const Step& s) {
    std::string head = s.name + "  " + s.op + "  " + named_shape(s);
    if (!s.computed) return head;
    // A tensor of whole numbers (an index, region labels) gives its min and max as integers.
    const bool whole_step = s.values_mode == ValuesMode::Full && whole_numbers(s.values);
    const std::string stats = "min " + cell_text((float)s.stats.min, whole_step) + "  max " +
                              cell_text((float)s.stats.max, whole_step) + "  mean " + fixed(s.stats.mean) + "  std " +
                              fixed(s.stats.std);
    // Past about 120 columns the statistics go on a line of their own.
    return head + (head.size() + 2 + stats.size() > (size_t)kTableWidth ? "\n  " : "  ") + stats;
}

void print_step_values(std::FILE* out, const Step& s, int columns, const std::vector<AxisRange>& view_in,
                       int64_t limit) {
    std::fprintf(out, "%s\n", step_header(s).c_str());
    if (s.values_mode != ValuesMode::Full || (int64_t)s.values.size() != numel(s.shape)) {
        std::fprintf(out, "  (values not recorded)\n");
        return;
    }
    const int rank = static_cast<int>(s.shape.size());
    std::vector<AxisRange> view = view_in;
    if (view.empty())
        for (int64_t n : s.shape) view.push_back({0, n, false});
    std::vector<int64_t> stride(rank, 1);
    for (int d = rank - 2; d >= 0; d--) stride[d] = stride[d + 1] * s.shape[d + 1];
    std::vector<int> kept;  // the axes that the printout keeps, in order
    int64_t count = 1;
    for (int d = 0; d < rank; d++)
        if (!view[d].single) kept.push_back(d), count *= view[d].end - view[d].begin;
    const bool whole = whole_numbers(s.values);

    // The last two kept axes make each printed matrix; the others (and the single indices) label it.
    const int col_axis = kept.empty() ? -1 : kept.back();
    const int row_axis = kept.size() >= 2 ? kept[kept.size() - 2] : -1;
    std::vector<int> outer(kept.begin(), kept.end() - std::min<size_t>(kept.size(), 2));
    const bool summary = limit > 0 && count > limit;
    Matrix m;
    m.col_stride = col_axis >= 0 ? stride[col_axis] : 1;
    m.row_stride = row_axis >= 0 ? stride[row_axis] : 0;
    m.col_dim = col_axis >= 0 ? s.dims[col_axis] : "";
    m.row_dim = row_axis >= 0 ? s.dims[row_axis] : "";
    m.rows = row_axis < 0 ? std::vector<int64_t>{0} : summary ? corners(view[row_axis], 4, 2) : indices(view[row_axis]);
    m.cols = col_axis < 0 ? std::vector<int64_t>{0} : summary ? corners(view[col_axis], 4, 2) : indices(view[col_axis]);
    if (col_axis < 0) m.col_dim = "value";

    std::vector<int64_t> at(rank);
    for (int d = 0; d < rank; d++) at[d] = view[d].begin;
    while (true) {
        int64_t offset = 0;
        std::string label;
        for (int d = 0; d < rank; d++) {
            if (d == row_axis || d == col_axis) continue;
            offset += at[d] * stride[d];
            label += (label.empty() ? "" : ", ") + s.dims[d] + "=" + std::to_string(at[d]);
        }
        std::string indent = "  ";
        if (!label.empty()) {
            std::fprintf(out, "  %s\n", label.c_str());
            indent = "    ";
        }
        m.base = s.values.data() + offset;
        print_matrix(out, m, columns, indent, whole);
        if (summary) break;  // the first slice's corners only
        int d = (int)outer.size() - 1;  // next slice, last outer axis fastest
        for (; d >= 0; d--) {
            if (++at[outer[d]] < view[outer[d]].end) break;
            at[outer[d]] = view[outer[d]].begin;
        }
        if (d < 0) break;
    }
    if (summary) {
        std::string example = s.name + "[";
        for (int d = 0; d < rank; d++) example += (d ? ", " : "") + std::string(d + 2 < rank ? "0" : ":8");
        example += "]";
        std::fprintf(out, "  (%lld values: the corners of the first slice are shown. For more, give a slice over\n"
                          "   [%s], such as --show '%s', or add --show-all)\n",
                     (long long)count, dims_list(s).c_str(), example.c_str());
    }
}

}  // namespace vitrace::cli

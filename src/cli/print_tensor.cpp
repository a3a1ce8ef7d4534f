#include "cli/print_tensor.h"

#include <algorithm>
#include <string>

#include "cli/table.h"

namespace vitrace::cli {

namespace {

// "heads=1, N=3" for the leading indices of a slice.
std::string slice_label(const Step& s, const std::vector<int64_t>& index) {
    std::string out;
    for (size_t i = 0; i < index.size(); i++)
        out += (i ? ", " : "") + s.dims[i] + "=" + std::to_string(index[i]);
    return out;
}

void print_matrix(std::FILE* out, const Step& s, const float* v, int64_t rows, int64_t cols, int columns,
                  const std::string& indent) {
    const std::string row_dim = s.shape.size() >= 2 ? s.dims[s.dims.size() - 2] : "";
    const std::string col_dim = s.dims.back();
    int label_width = 0;
    for (int64_t r = 0; r < rows; r++)
        label_width = std::max<int>(label_width, (int)(row_dim.size() + 1 + std::to_string(r).size()));
    // Cells wide enough for "-12.3456" and for the widest column label.
    const int cell = std::max<int>(9, (int)(col_dim.size() + 1 + std::to_string(cols - 1).size()));
    for (int64_t c0 = 0; c0 < cols; c0 += columns) {
        const int64_t c1 = std::min<int64_t>(cols, c0 + columns);
        // column header: the index of each column along the last axis
        std::string header(indent.size() + label_width, ' ');
        for (int64_t c = c0; c < c1; c++) {
            const std::string label = col_dim + "=" + std::to_string(c);
            header += " " + std::string(cell - label.size(), ' ') + label;
        }
        std::fprintf(out, "%s\n", header.c_str());
        for (int64_t r = 0; r < rows; r++) {
            std::string label = row_dim.empty() ? "" : row_dim + "=" + std::to_string(r);
            std::string line = indent + label + std::string(label_width - label.size(), ' ');
            for (int64_t c = c0; c < c1; c++) {
                const std::string value = fixed(v[r * cols + c]);
                line += " " + std::string(std::max<int>(0, cell - (int)value.size()), ' ') + value;
            }
            std::fprintf(out, "%s\n", line.c_str());
        }
    }
}

}  // namespace

void print_step_values(std::FILE* out, const Step& s, int columns) {
    std::fprintf(out, "%s  %s  %s", s.name.c_str(), s.op.c_str(), named_shape(s).c_str());
    if (s.computed)
        std::fprintf(out, "  min %s  max %s  mean %s  std %s", fixed(s.stats.min).c_str(), fixed(s.stats.max).c_str(),
                     fixed(s.stats.mean).c_str(), fixed(s.stats.std).c_str());
    std::fprintf(out, "\n");
    if (s.values_mode != ValuesMode::Full || (int64_t)s.values.size() != numel(s.shape)) {
        std::fprintf(out, "  (values not recorded)\n");
        return;
    }
    const int rank = static_cast<int>(s.shape.size());
    const int64_t cols = s.shape.back();
    const int64_t rows = rank >= 2 ? s.shape[rank - 2] : 1;
    const int64_t slices = numel(s.shape) / (rows * cols);
    std::vector<int64_t> index(std::max(0, rank - 2), 0);
    for (int64_t k = 0; k < slices; k++) {
        std::string indent = "  ";
        if (!index.empty()) {
            std::fprintf(out, "  %s\n", slice_label(s, index).c_str());
            indent = "    ";
        }
        print_matrix(out, s, s.values.data() + k * rows * cols, rows, cols, columns, indent);
        for (int d = (int)index.size() - 1; d >= 0; d--) {  // next slice, last leading axis fastest
            if (++index[d] < s.shape[d]) break;
            index[d] = 0;
        }
    }
}

}  // namespace vitrace::cli

// Maps of a token grid, for the Swin lessons (14 to 17): one short text per
// token, window borders drawn, so that a learner sees where each token goes.
// The cells come from the core functions themselves (window_partition,
// cyclic_shift, patch_merge run on a grid that holds each token's own index).
#pragma once

#include <algorithm>
#include <functional>
#include <string>
#include <vector>

#include "core/tensor.h"

namespace vitrace::cli {

// [H, W, 1]: token (y, x) holds its own index y·W + x, so that after any
// rearrangement each value says where it came from.
inline Tensor token_index_grid(int H, int W) {
    Tensor ids = Tensor::zeros({H, W, 1});
    for (int64_t i = 0; i < ids.numel(); i++) ids[i] = static_cast<float>(i);
    return ids;
}

inline std::string pad_left(const std::string& s, int width) {
    return std::string(std::max<int>(0, width - (int)s.size()), ' ') + s;
}

// The lines of an H×W map: row y, column x shows cell(y, x) right-aligned in
// `width` characters. Rows and columns are numbered; a border is drawn every M
// rows and columns (M = 0: none).
inline std::vector<std::string> grid_map(int H, int W, int M, int width,
                                         const std::function<std::string(int, int)>& cell) {
    const auto border_before = [M](int i) { return M > 0 && i > 0 && i % M == 0; };
    const std::string margin = "    ";
    std::string header = margin;
    for (int x = 0; x < W; x++) header += (border_before(x) ? "  " : "") + pad_left(std::to_string(x), width + 1);
    std::vector<std::string> rows;
    for (int y = 0; y < H; y++) {
        std::string row = pad_left(std::to_string(y), 3) + " ";
        for (int x = 0; x < W; x++) row += (border_before(x) ? " |" : "") + pad_left(cell(y, x), width + 1);
        rows.push_back(row);
    }
    // The horizontal border: the row's shape, '+' where it crosses a vertical border.
    std::string border = margin;
    for (size_t i = margin.size(); i < rows[0].size(); i++) border += rows[0][i] == '|' ? '+' : '-';
    std::vector<std::string> lines = {header};
    for (int y = 0; y < H; y++) {
        if (border_before(y)) lines.push_back(border);
        lines.push_back(rows[y]);
    }
    return lines;
}

// Two blocks of lines side by side, with `gap` spaces between them.
inline std::vector<std::string> side_by_side(const std::vector<std::string>& left,
                                             const std::vector<std::string>& right, int gap = 4) {
    size_t width = 0;
    for (const std::string& s : left) width = std::max(width, s.size());
    std::vector<std::string> out;
    for (size_t i = 0; i < std::max(left.size(), right.size()); i++) {
        std::string s = i < left.size() ? left[i] : "";
        if (i < right.size()) s += std::string(width + gap - s.size(), ' ') + right[i];
        out.push_back(s);
    }
    return out;
}

}  // namespace vitrace::cli

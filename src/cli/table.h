// Aligned text tables for the terminal.
#pragma once

#include <cstdio>
#include <string>
#include <vector>

#include "core/trace.h"

namespace vitrace::cli {

// The width tables keep to unless told otherwise (`--wide`).
inline constexpr int kTableWidth = 120;

struct Table {
    Table(std::vector<std::string> header_, std::vector<bool> right_, std::vector<std::vector<std::string>> rows_ = {},
          int spill_ = -1)
        : header(std::move(header_)), right(std::move(right_)), rows(std::move(rows_)), spill(spill_) {}
    std::vector<std::string> header;
    std::vector<bool> right;  // right-align this column (numbers)
    std::vector<std::vector<std::string>> rows;
    // The column whose long cells may stand on a line of their own so that
    // the table keeps within `max_width` (the step name); -1: none.
    int spill = -1;
    // Rows that stand for a run of others: printed whole, across the columns.
    std::vector<std::pair<size_t, std::string>> notes;  // (before row i, text)
    // Lines longer than max_width (0: no limit) move a long `spill` cell onto
    // its own line, the rest of its row on the next line under its columns.
    void print(std::FILE* out, int max_width = kTableWidth) const;
};

// "[heads=3, N_q=197, N_k=197]"
std::string named_shape(const Step& s);

// The per-step table of `vitrace trace`: step, shape, min, max, mean, std.
Table stats_table(const Trace& trace);
// The per-step table of `vitrace shapes`: step, op, shape, MACs. Only the
// steps matching one of `globs` (all when empty); with `first_blocks`, a
// block whose steps, shapes and MACs repeat an earlier block's is left out,
// and a note line says which blocks were left out and which they repeat.
Table shapes_table(const Trace& trace, const std::vector<std::string>& globs = {}, bool first_blocks = false);

std::string fixed(double v, int decimals = 4);

}  // namespace vitrace::cli

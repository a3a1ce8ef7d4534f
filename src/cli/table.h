// Aligned text tables for the terminal.
#pragma once

#include <cstdio>
#include <string>
#include <vector>

#include "core/trace.h"

namespace vitrace::cli {

struct Table {
    std::vector<std::string> header;
    std::vector<bool> right;  // right-align this column (numbers)
    std::vector<std::vector<std::string>> rows;
    void print(std::FILE* out) const;
};

// "[heads=3, N=197, N=197]"
std::string named_shape(const Step& s);

// The per-step table of `vitrace trace`: step, shape, min, max, mean, std.
Table stats_table(const Trace& trace);
// The per-step table of `vitrace shapes`: step, op, shape, MACs.
Table shapes_table(const Trace& trace);

std::string fixed(double v, int decimals = 4);

}  // namespace vitrace::cli

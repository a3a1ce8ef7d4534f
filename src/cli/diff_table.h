// The table `vitrace diff` prints, for the lessons that print one too.
#pragma once

#include <string>
#include <vector>

#include "cli/table.h"
#include "pipeline/diff.h"

namespace vitrace::cli {

// Its columns: mark, step, op, max |a-b|, max rel, mean |a-b|, cosine, verdict.
Table diff_table();
// Step i of r as a row: ">>" on the first divergence, the figures where the
// step was compared, and how it compares ("ok", "DIVERGES", "only in A", ...).
std::vector<std::string> diff_row(const DiffResult& r, size_t i);

}  // namespace vitrace::cli

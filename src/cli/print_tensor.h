// Printing a step's values for a person to read: 2-D slices with their indices.
#pragma once

#include <cstdio>
#include <string>
#include <vector>

#include "core/trace.h"

namespace vitrace::cli {

// A step's values beyond this many print as their corners, with how to see more.
inline constexpr int64_t kShowLimit = 2000;

// One axis of a slice: the indices [begin, end), or one index that the slice drops.
struct AxisRange {
    int64_t begin = 0, end = 0;
    bool single = false;
};

// A --show item: a glob of step names, and optionally a slice in brackets,
// "blocks.0.attn.softmax[0, 0, :8]": one index (i, or -i from the end) or
// range (a:b, :b, a:, :) per leading axis; the axes not named are whole.
struct ShowPattern {
    std::string glob;
    std::string slice;  // the text between the brackets; empty without
    std::string text;   // as given
};

// "a,b[0, :2],c" -> a, b[0, :2], c: commas inside brackets belong to the slice.
// Throws Error(Usage) for an unclosed bracket.
std::vector<ShowPattern> parse_show(const std::string& list);

// The slice's ranges over s's axes; throws Error(Usage) naming the axis when an
// index is out of range or the slice names more axes than s has.
std::vector<AxisRange> slice_of(const ShowPattern& p, const Step& s);

// Prints "name  op  [dims]  min .. max  mean .. std", then the values as 2-D
// slices over the last two axes kept, each row and column labelled by its index
// along its axis. Rows wider than `columns` values wrap into blocks. Whole
// numbers print as integers. Above `limit` values (0: no limit) it prints the
// corners of the first slice and says how to see more. Steps without values
// print a note.
// "blocks.0.attn.softmax  softmax  [heads=3, N_q=197, N_k=197]  min ...  max ...  mean ...  std ...",
// the statistics on a second line when the whole would pass about 120 columns.
std::string step_header(const Step& s);

void print_step_values(std::FILE* out, const Step& s, int columns = 8, const std::vector<AxisRange>& view = {},
                       int64_t limit = 0);

}  // namespace vitrace::cli

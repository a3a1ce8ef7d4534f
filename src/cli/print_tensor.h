// Printing a step's values for a person to read: 2-D slices with their indices.
#pragma once

#include <cstdio>

#include "core/trace.h"

namespace vitrace::cli {

// Prints "name  op  [dims]  min .. max  mean .. std", then the values as 2-D
// slices over the last two axes, each row labelled by its index. Rows wider
// than `columns` values wrap into blocks. Steps without values print a note.
void print_step_values(std::FILE* out, const Step& s, int columns = 8);

}  // namespace vitrace::cli

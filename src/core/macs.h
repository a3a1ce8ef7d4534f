// The multiply-add counter. Each kernel adds, once per call, the count its
// loops perform (from its own loop bounds); the trace takes the count since
// the previous step. Shape-only runs count the same numbers without the loops.
#pragma once

#include <cstdint>

namespace vitrace {

void count_macs(int64_t n);
int64_t take_macs();  // returns the count so far and resets it

}  // namespace vitrace

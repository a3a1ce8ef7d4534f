#include "core/macs.h"

namespace vitrace {

namespace {
thread_local int64_t g_macs = 0;  // per thread: kernels count from the thread that calls them
}

void count_macs(int64_t n) { g_macs += n; }

int64_t take_macs() {
    const int64_t n = g_macs;
    g_macs = 0;
    return n;
}

}  // namespace vitrace

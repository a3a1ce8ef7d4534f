#include "cli/format.h"

#include <cmath>
#include <cstdio>

namespace vitrace::cli {

std::string human(double value, Units units) {
    char buf[32];
    if (units == Units::Count) {
        const char* prefixes[] = {"", "k", "M", "G", "T"};
        int p = 0;
        while (std::abs(value) >= 1000 && p < 4) {
            value /= 1000;
            p++;
        }
        std::snprintf(buf, sizeof buf, p == 0 ? "%.0f%s" : "%.2f%s", value, prefixes[p]);
    } else if (units == Units::Bytes) {
        const bool mib = value >= 1048576.0;
        std::snprintf(buf, sizeof buf, mib ? "%.2f MiB" : "%.1f KiB", value / (mib ? 1048576.0 : 1024.0));
    } else {
        const bool gb = value >= 1073741824.0;
        std::snprintf(buf, sizeof buf, gb ? "%.1f GB" : "%.0f MB", value / (gb ? 1073741824.0 : 1048576.0));
    }
    return buf;
}

}  // namespace vitrace::cli

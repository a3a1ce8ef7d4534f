// Numbers for people: one formatter for counts and sizes.
#pragma once

#include <string>

namespace vitrace::cli {

enum class Units {
    Count,      // steps of 1000, two decimals: 17.56G, 5.72M, 8.10k, 512
    Bytes,      // steps of 1024, as compare's tables: 900.4 KiB, 1.76 MiB
    RoundBytes  // steps of 1024, as the memory budget: 26 MB, 1.2 GB
};

std::string human(double value, Units units);
inline std::string human_count(double n) { return human(n, Units::Count); }

}  // namespace vitrace::cli

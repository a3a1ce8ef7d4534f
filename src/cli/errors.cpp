#include "cli/errors.h"

#include <cstdio>

namespace vitrace::cli {

int exit_code(ErrorKind kind) {
    switch (kind) {
        case ErrorKind::Usage: return 2;
        case ErrorKind::Input: return 3;
        case ErrorKind::Checkpoint: return 4;
        case ErrorKind::Config: return 5;
        case ErrorKind::Output: return 6;
        case ErrorKind::Internal: return 1;
    }
    return 1;
}

namespace {

std::string one_line(const std::string& s) {
    std::string out;
    for (unsigned char c : s) {
        if (c == '\n' || c == '\r' || c == '\t') {
            out += ' ';
        } else if (c < 0x20 || c == 0x7F) {
            char tmp[8];
            std::snprintf(tmp, sizeof tmp, "\\x%02x", c);
            out += tmp;
        } else {
            out += static_cast<char>(c);
        }
    }
    return out;
}

}  // namespace

void print_error(const std::string& message) {
    std::fprintf(stderr, "vitrace: error: %s\n", one_line(message).c_str());
}

void print_warning(const std::string& message) {
    std::fprintf(stderr, "vitrace: warning: %s\n", one_line(message).c_str());
}

}  // namespace vitrace::cli

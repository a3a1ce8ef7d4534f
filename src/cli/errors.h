// Exit codes, and messages on stderr.
#pragma once

#include <string>

#include "core/error.h"

namespace vitrace::cli {

// Exit codes, one per kind of failure (docs/cli.md).
int exit_code(ErrorKind kind);

// "vitrace: error: ..." on one line; control characters in the message are escaped.
void print_error(const std::string& message);
void print_warning(const std::string& message);

}  // namespace vitrace::cli

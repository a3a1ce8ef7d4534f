// What went wrong, by kind. The command line maps each kind to an exit code
// (docs/cli.md has the table).
#pragma once

#include <stdexcept>
#include <string>

namespace vitrace {

enum class ErrorKind {
    Usage,       // a flag or argument the command line cannot accept
    Input,       // the image file
    Checkpoint,  // the safetensors file, or its fit to the model
    Config,      // the model name or its configuration
    Output,      // the file the trace goes to
    Internal,    // a bug in vitrace
};

struct Error : std::runtime_error {
    ErrorKind kind;
    Error(ErrorKind k, const std::string& message) : std::runtime_error(message), kind(k) {}
};

// Throws Error(kind, message) unless ok.
inline void require(bool ok, ErrorKind kind, const std::string& message) {
    if (!ok) throw Error(kind, message);
}

}  // namespace vitrace

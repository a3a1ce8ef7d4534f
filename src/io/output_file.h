// Output that appears whole or not at all.
//
// The target is checked and a temporary file opened next to it before any work
// starts, so a bad -o fails at once. The temporary becomes the target only on
// commit(); if the run fails first, it is removed and an existing file at the
// target is left untouched. "-" is standard output; an existing device or pipe
// (such as /dev/null) is written directly, since it cannot be replaced.
#pragma once

#include <cstdio>
#include <memory>
#include <string>

namespace vitrace {

class OutputFile {
public:
    explicit OutputFile(std::string path);  // throws Error(Output)
    ~OutputFile();
    OutputFile(const OutputFile&) = delete;
    OutputFile& operator=(const OutputFile&) = delete;

    std::FILE* file() { return f_; }
    const std::string& path() const { return path_; }
    void commit();  // throws Error(Output), e.g. when the disk is full

private:
    std::string path_, temp_;
    std::FILE* f_ = nullptr;
    std::unique_ptr<char[]> buffer_;  // stdio's buffer, left unset: its pages are touched as the output fills them
    bool direct_ = false;  // stdout or a device: no temporary, no rename
    bool committed_ = false;
};

// Writes bytes to path through an OutputFile.
void write_file_atomically(const std::string& path, const std::string& bytes);

}  // namespace vitrace

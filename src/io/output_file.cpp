#include "io/output_file.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "core/tensor.h"

namespace vitrace {

namespace {

[[noreturn]] void fail(const std::string& path, const std::string& why) {
    throw Error(ErrorKind::Output, "output '" + path + "': " + why);
}

std::string dir_of(const std::string& path) {
    const auto slash = path.find_last_of('/');
    if (slash == std::string::npos) return ".";
    return slash == 0 ? "/" : path.substr(0, slash);
}

std::string base_of(const std::string& path) {
    const auto slash = path.find_last_of('/');
    return slash == std::string::npos ? path : path.substr(slash + 1);
}

}  // namespace

OutputFile::OutputFile(std::string path) : path_(std::move(path)) {
    if (path_.empty()) fail(path_, "the path is empty");
    if (path_ == "-") {
        f_ = stdout;
        direct_ = true;
        return;
    }
    struct stat st {};
    if (stat(path_.c_str(), &st) == 0) {
        if (S_ISDIR(st.st_mode)) fail(path_, "it is a directory; give a file name");
        if (!S_ISREG(st.st_mode)) {
            f_ = std::fopen(path_.c_str(), "wb");
            if (!f_) fail(path_, std::string("cannot open it for writing (") + std::strerror(errno) + ")");
            direct_ = true;
            return;
        }
    }
    const std::string dir = dir_of(path_);
    struct stat dst {};
    if (stat(dir.c_str(), &dst) != 0) fail(path_, "directory '" + dir + "' does not exist");
    if (!S_ISDIR(dst.st_mode)) fail(path_, "'" + dir + "' is not a directory");
    std::string tmpl = dir + "/." + base_of(path_) + ".vitrace-XXXXXX";
    const int fd = mkstemp(tmpl.data());
    if (fd < 0) fail(path_, "cannot create a file in '" + dir + "' (" + std::strerror(errno) + ")");
    temp_ = tmpl;
    const mode_t mask = umask(0);
    umask(mask);
    fchmod(fd, 0666 & ~mask);
    f_ = fdopen(fd, "wb");
    if (!f_) {
        ::close(fd);
        std::remove(temp_.c_str());
        fail(path_, std::string("cannot open it for writing (") + std::strerror(errno) + ")");
    }
    constexpr size_t kBuffer = size_t{1} << 20;
    buffer_.reset(new char[kBuffer]);
    std::setvbuf(f_, buffer_.get(), _IOFBF, kBuffer);
}

OutputFile::~OutputFile() {
    if (committed_) return;
    if (f_ && f_ != stdout) std::fclose(f_);
    if (!temp_.empty()) std::remove(temp_.c_str());
}

void OutputFile::commit() {
    const bool write_error = std::ferror(f_) != 0;
    const bool flush_error = std::fflush(f_) != 0;
    const int err = errno;
    if (f_ != stdout) {
        const bool close_error = std::fclose(f_) != 0;
        f_ = nullptr;
        if (write_error || flush_error || close_error) {
            if (!temp_.empty()) std::remove(temp_.c_str());
            committed_ = true;
            fail(path_, std::string("writing failed (") + std::strerror(err ? err : EIO) + ")");
        }
    } else if (write_error || flush_error) {
        committed_ = true;
        fail(path_, std::string("writing failed (") + std::strerror(err ? err : EIO) + ")");
    }
    committed_ = true;
    if (!direct_ && std::rename(temp_.c_str(), path_.c_str()) != 0) {
        const int e = errno;
        std::remove(temp_.c_str());
        fail(path_, std::string("cannot replace it (") + std::strerror(e) + ")");
    }
}

void write_file_atomically(const std::string& path, const std::string& bytes) {
    OutputFile out(path);
    std::fwrite(bytes.data(), 1, bytes.size(), out.file());
    out.commit();
}

}  // namespace vitrace

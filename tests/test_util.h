// Shared by the Boost.Test suites: comparing tensors with a report that says
// where they differ, and running the vitrace binary.
#pragma once

#include <boost/test/unit_test.hpp>

#include <sys/wait.h>
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <sstream>
#include <string>
#include <vector>

#include "core/tensor.h"

namespace vitrace::test {

// Tolerances, one per kind of comparison.
inline constexpr float kExact = 0.0f;           // copies and index arithmetic
inline constexpr float kHandComputed = 1e-5f;   // small cases worked out by hand
inline constexpr float kFastVsNaive = 1e-4f;    // blocked against naive kernels (relative to the sum's size)
inline constexpr float kGolden = 1e-4f;         // vitrace against our PyTorch port of timm, absolute

// A tensor whose every value is its own flat index: it shows where values move.
inline Tensor iota(Shape shape) {
    Tensor t = Tensor::zeros(std::move(shape));
    for (int64_t i = 0; i < t.numel(); i++) t[i] = static_cast<float>(i);
    return t;
}

inline std::string first_values(const float* v, size_t n, size_t k = 6) {
    std::ostringstream s;
    s << "[";
    for (size_t i = 0; i < n && i < k; i++) s << (i ? ", " : "") << v[i];
    s << (n > k ? ", ...]" : "]");
    return s.str();
}

// Checks |actual - expected| <= tol element by element. On failure the message
// gives the largest difference, where it is, and the first values of both.
inline void check_close(const std::string& what, const float* actual, const float* expected, size_t n, float tol) {
    double max_diff = 0;
    size_t where = 0;
    for (size_t i = 0; i < n; i++) {
        const double d = std::fabs((double)actual[i] - (double)expected[i]);
        if (d > max_diff || std::isnan(d)) {
            max_diff = std::isnan(d) ? INFINITY : d;
            where = i;
        }
    }
    BOOST_CHECK_MESSAGE(max_diff <= tol, what << ": max |diff| " << max_diff << " > " << tol << " at flat index " << where
                                              << "\n    actual   " << first_values(actual, n)
                                              << "\n    expected " << first_values(expected, n));
}

inline void check_close(const std::string& what, const Tensor& actual, const Tensor& expected, float tol) {
    BOOST_REQUIRE_MESSAGE(actual.shape == expected.shape, what << ": shape " << shape_str(actual.shape)
                                                               << ", expected " << shape_str(expected.shape));
    check_close(what, actual.ptr(), expected.ptr(), actual.data.size(), tol);
}

// Calls f, which must throw vitrace::Error of the given kind whose message
// holds every phrase.
template <class F>
void check_error(ErrorKind kind, F&& f, const std::vector<std::string>& phrases) {
    try {
        f();
    } catch (const Error& e) {
        const std::string msg = e.what();
        BOOST_CHECK_MESSAGE(e.kind == kind, "error kind " << (int)e.kind << ", expected " << (int)kind << ": " << msg);
        for (const std::string& p : phrases)
            BOOST_CHECK_MESSAGE(msg.find(p) != std::string::npos, "message lacks '" << p << "': " << msg);
        return;
    }
    BOOST_ERROR("no vitrace::Error thrown; expected one saying '" << phrases.front() << "'");
}

struct RunResult {
    int exit_code = -1;
    std::string out, err;
};

// Runs a shell command, capturing stdout and stderr separately.
inline RunResult run(const std::string& command) {
    char err_path[] = "/tmp/vitrace-test-stderr-XXXXXX";
    const int fd = mkstemp(err_path);
    if (fd >= 0) close(fd);
    RunResult r;
    FILE* p = popen((command + " 2>" + err_path).c_str(), "r");
    if (!p) return r;
    char buf[65536];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, p)) > 0) r.out.append(buf, n);
    const int status = pclose(p);
    r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    if (FILE* e = fopen(err_path, "r")) {
        while ((n = fread(buf, 1, sizeof buf, e)) > 0) r.err.append(buf, n);
        fclose(e);
    }
    std::remove(err_path);
    return r;
}

}  // namespace vitrace::test

#include "cli/run.h"

#include <unistd.h>

#include <chrono>
#include <cstdio>

#include "cli/errors.h"

namespace vitrace::cli {

ImageRun run_on_image(const LoadedModel& lm, const std::string& image_path, const Normalization& norm,
                      const TraceOptions& options) {
    std::string warning;
    DecodedImage image = read_input(image_path, &warning);
    if (!warning.empty()) print_warning(warning);
    Progress progress("trace " + lm.model.config.name);
    return run_model(lm, std::move(image), norm, options, progress.on_step());
}

Progress::Progress(const std::string& label) : label_(label), active_(isatty(STDERR_FILENO)) {}

Progress::~Progress() {
    if (active_) std::fprintf(stderr, "\r\033[K");
}

std::function<void(const Step&)> Progress::on_step() const {
    if (!active_) return {};
    const auto start = std::chrono::steady_clock::now();
    auto last = start;
    return [label = label_, start, last](const Step& s) mutable {
        const auto now = std::chrono::steady_clock::now();
        if (now - start < std::chrono::milliseconds(300) || now - last < std::chrono::milliseconds(100)) return;
        last = now;
        std::fprintf(stderr, "\r\033[K%s: step %d %s", label.c_str(), s.index, s.name.c_str());
        std::fflush(stderr);
    };
}

}  // namespace vitrace::cli

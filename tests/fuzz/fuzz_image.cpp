// Fuzz target: arbitrary bytes as an image file, decoded and preprocessed to
// a model input. Anything but a clean vitrace::Error is a bug.
#include <cstddef>
#include <cstdint>

#include "io/image.h"
#include "pipeline/preprocess.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    try {
        const vitrace::DecodedImage img = vitrace::decode_image(data, size, "<fuzz>");
        // A few hundred bytes can claim millions of pixels, which are slow to
        // resize under the sanitizers but exercise no new code: keep the fuzzer fast.
        if ((int64_t)img.width * img.height > (1 << 20)) return 0;
        vitrace::TraceOptions opts;
        opts.values = vitrace::ValuesMode::None;
        vitrace::Trace trace(opts);
        vitrace::preprocess(img, 8, vitrace::Normalization{}, trace);
    } catch (const vitrace::Error&) {
    }
    return 0;
}

// Fuzz target: arbitrary bytes as a safetensors checkpoint, parsed and then
// loaded into a small ViT and a small Swin. Anything but a clean vitrace::Error
// (a crash, a hang, another exception) is a bug.
#include <cstddef>
#include <cstdint>
#include <string>

#include "core/model.h"
#include "io/checkpoint.h"
#include "io/safetensors.h"

namespace {

vitrace::ModelConfig small(const char* name, vitrace::ConfigOverrides o) {
    vitrace::ModelConfig cfg = vitrace::find_model(name);
    vitrace::apply_overrides(cfg, o);
    return cfg;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    static const vitrace::ModelConfig vit = [] {
        vitrace::ConfigOverrides o;
        o["--image-size"] = vitrace::FlagValue{8};
        o["--patch"] = vitrace::FlagValue{4};
        o["--width"] = vitrace::FlagValue{8};
        o["--depth"] = vitrace::FlagValue{1};
        o["--heads"] = vitrace::FlagValue{2};
        o["--classes"] = vitrace::FlagValue{3};
        return small("vit_tiny_patch16_224", o);
    }();
    static const vitrace::ModelConfig swin = [] {
        vitrace::ConfigOverrides o;
        o["--image-size"] = vitrace::FlagValue{16};
        o["--patch"] = vitrace::FlagValue{2};
        o["--width"] = vitrace::FlagValue{4};
        o["--depth"] = vitrace::FlagValue{2, 1};
        o["--heads"] = vitrace::FlagValue{1, 2};
        o["--window"] = vitrace::FlagValue{4};
        o["--classes"] = vitrace::FlagValue{3};
        return small("swin_tiny_patch4_window7_224", o);
    }();
    try {
        const vitrace::SafetensorsFile f =
            vitrace::SafetensorsFile::from_memory(std::string(reinterpret_cast<const char*>(data), size), "<fuzz>");
        std::vector<float> values;
        for (const vitrace::TensorEntry& t : f.tensors()) {
            values.resize(vitrace::numel(t.shape));
            f.read_floats(t, values.data());
        }
        for (const vitrace::ModelConfig* cfg : {&vit, &swin}) {
            vitrace::Model m = vitrace::make_model(*cfg);
            try {
                vitrace::load_checkpoint(m, f);
            } catch (const vitrace::Error&) {
            }
        }
    } catch (const vitrace::Error&) {
    }
    return 0;
}

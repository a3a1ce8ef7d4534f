#include "io/checkpoint.h"

#include <cmath>
#include <map>
#include <optional>
#include <set>

#include "core/window.h"
#include "io/safetensors.h"

namespace vitrace {

namespace {

// "a, b, c and 4 more": keeps a one-line message short.
std::string list_some(const std::vector<std::string>& items, size_t max_items = 6) {
    std::string s;
    for (size_t i = 0; i < items.size() && i < max_items; i++) s += (i ? ", " : "") + items[i];
    if (items.size() > max_items) s += " and " + std::to_string(items.size() - max_items) + " more";
    return s;
}

bool has_prefix(const SafetensorsFile& f, const std::string& prefix) {
    for (const auto& t : f.tensors())
        if (t.name.rfind(prefix, 0) == 0) return true;
    return false;
}

bool ends_with(const std::string& s, const std::string& tail) {
    return s.size() >= tail.size() && s.compare(s.size() - tail.size(), tail.size(), tail) == 0;
}

// Swin checkpoints come in two layouts. timm >= 0.9 (vitrace's own names) opens
// stage s with layers.s.downsample and names the classifier head.fc; the
// original Microsoft release closes stage s-1 with the same patch merging,
// layers.(s-1).downsample, and names the classifier head.
enum class SwinLayout { Timm, Microsoft };

SwinLayout detect_swin_layout(const SafetensorsFile& f) {
    if (f.find("head.fc.weight")) return SwinLayout::Timm;
    if (f.find("head.weight") || has_prefix(f, "layers.0.downsample.")) return SwinLayout::Microsoft;
    return SwinLayout::Timm;
}

// vitrace's (timm's) name -> the name in a file of the given layout.
std::string file_name(const std::string& name, SwinLayout layout) {
    if (layout == SwinLayout::Timm) return name;
    if (name.rfind("head.fc.", 0) == 0) return "head." + name.substr(8);
    const std::string tag = ".downsample.";
    const auto at = name.find(tag);
    if (name.rfind("layers.", 0) == 0 && at != std::string::npos) {
        const int stage = std::stoi(name.substr(7, at - 7));
        return "layers." + std::to_string(stage - 1) + name.substr(at);
    }
    return name;
}

// Swin's buffers, layers.s.blocks.b.attn.relative_position_index and
// layers.s.blocks.b.attn_mask, are computed by vitrace. When a file has them
// they must equal what vitrace computes for its configuration; returns the
// problem, or nothing.
std::optional<std::string> check_swin_buffer(const SafetensorsFile& f, const TensorEntry& e, const SwinConfig& cfg,
                                             bool* is_buffer) {
    const bool index = ends_with(e.name, ".attn.relative_position_index");
    const bool mask = ends_with(e.name, ".attn_mask");
    *is_buffer = index || mask;
    if (!*is_buffer) return std::nullopt;
    int s = -1, b = -1;
    if (std::sscanf(e.name.c_str(), "layers.%d.blocks.%d.", &s, &b) != 2 || s < 0 || s >= cfg.stages() || b < 0 ||
        b >= cfg.depths[s]) {
        *is_buffer = false;  // a buffer of a block this model does not have: unexpected
        return std::nullopt;
    }
    const int M = cfg.window_at(s), shift = b % 2 == 1 ? cfg.shift_at(s) : 0;
    Tensor want;
    if (index) {
        relative_position_index(want, M);
    } else {
        if (shift == 0) return e.name + ": the model computes no mask for this unshifted block";
        shifted_window_mask(want, cfg.resolution(s), cfg.resolution(s), M, shift);
    }
    if (e.shape != want.shape)
        return e.name + ": expected " + shape_str(want.shape) + " (window " + std::to_string(M) + "), got " +
               shape_str(e.shape);
    std::vector<float> got(want.numel());
    f.read_floats(e, got.data());
    for (int64_t i = 0; i < want.numel(); i++)
        if (got[i] != want[i])
            return e.name + ": differs from the one vitrace computes for window " + std::to_string(M) + ", shift " +
                   std::to_string(shift) + " (first at element " + std::to_string(i) + ")";
    return std::nullopt;
}

}  // namespace

LoadReport load_checkpoint(Model& m, const std::string& path, const LoadOptions& opts) {
    return load_checkpoint(m, SafetensorsFile::open(path), opts);
}

LoadReport load_checkpoint(Model& m, const SafetensorsFile& file, const LoadOptions& opts) {
    const std::string head = "checkpoint " + file.what() + " ";
    const std::string model_name = m.config.name;
    const bool swin = m.config.family == Family::Swin;

    const bool file_is_swin = has_prefix(file, "layers.");
    const bool file_is_vit = has_prefix(file, "blocks.") || file.find("cls_token");
    if (!swin && file_is_swin && !file_is_vit)
        throw Error(ErrorKind::Checkpoint, head + "holds Swin weights (tensors named layers.*), but " + model_name +
                                               " is a ViT: choose a swin_* model");
    if (swin && file_is_vit && !file_is_swin)
        throw Error(ErrorKind::Checkpoint, head + "holds ViT weights (tensors named blocks.* and cls_token), but " +
                                               model_name + " is a Swin Transformer: choose a vit_* model");
    const SwinLayout layout = swin ? detect_swin_layout(file) : SwinLayout::Timm;

    // Fill a fresh copy of the weights; the model keeps its own until all is well.
    Model loaded = make_model(m.config);
    struct Want {
        Tensor* dst;
        const TensorEntry* src;
    };
    std::vector<Want> wants;
    std::vector<std::string> missing, wrong_shape, wrong_dtype, bad_buffers;
    std::set<std::string> expected;
    visit_params(loaded, [&](const std::string& name, Tensor& t, ParamKind, int64_t) {
        const std::string in_file = file_name(name, layout);
        expected.insert(in_file);
        const TensorEntry* e = file.find(in_file);
        if (!e) {
            missing.push_back(in_file);
        } else if (e->shape != t.shape) {
            wrong_shape.push_back(in_file + ": expected " + shape_str(t.shape) + ", got " + shape_str(e->shape));
        } else if (!dtype_is_float(e->dtype)) {
            wrong_dtype.push_back(in_file + ": expected F32, F16, BF16 or F64, got " + dtype_name(e->dtype));
        } else {
            wants.push_back({&t, e});
        }
    });
    std::vector<std::string> unexpected;
    for (const auto& t : file.tensors()) {
        if (expected.count(t.name)) continue;
        bool is_buffer = false;
        if (swin) {
            if (auto problem = check_swin_buffer(file, t, m.config.swin, &is_buffer)) bad_buffers.push_back(*problem);
        }
        if (!is_buffer) unexpected.push_back(t.name);
    }

    std::string problems;
    auto add = [&](const std::vector<std::string>& items, const std::string& what) {
        if (items.empty()) return;
        problems += (problems.empty() ? "" : "; ") + std::to_string(items.size()) + " " + what + " (" +
                    list_some(items) + ")";
    };
    add(missing, "missing");
    add(unexpected, "unexpected");
    add(wrong_shape, "with the wrong shape");
    add(wrong_dtype, "with a non-float dtype");
    add(bad_buffers, "buffers that do not match the model");
    if (!problems.empty()) {
        const std::string layout_note =
            swin ? std::string(" (read as the ") + (layout == SwinLayout::Timm ? "timm" : "Microsoft") + " layout)" : "";
        throw Error(ErrorKind::Checkpoint, head + "does not fit " + model_name + layout_note + ": " + problems);
    }

    LoadReport report;
    report.layout = layout == SwinLayout::Timm ? "timm" : "microsoft";
    std::vector<std::string> nonfinite;
    for (const Want& w : wants) {
        w.dst->data.resize(w.dst->numel());
        file.read_floats(*w.src, w.dst->ptr());
        int64_t bad = 0;
        for (float v : w.dst->data) bad += !std::isfinite(v);
        if (bad) nonfinite.push_back(w.src->name + " (" + std::to_string(bad) + ")");
        report.tensors++;
        report.values += w.dst->numel();
    }
    if (!nonfinite.empty() && !opts.allow_nonfinite)
        throw Error(ErrorKind::Checkpoint, head + "has NaN or infinite values in " + std::to_string(nonfinite.size()) +
                                               " tensors (" + list_some(nonfinite) +
                                               "); pass --allow-nonfinite to trace it anyway");
    m = std::move(loaded);
    return report;
}

}  // namespace vitrace

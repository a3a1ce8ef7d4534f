#include "io/checkpoint.h"

#include <cmath>
#include <map>
#include <set>

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

}  // namespace

LoadReport load_checkpoint(Model& m, const std::string& path, const LoadOptions& opts) {
    const SafetensorsFile file = SafetensorsFile::open(path);
    const std::string head = "checkpoint " + file.what() + " ";
    const std::string model_name = m.config.name;

    const bool file_is_swin = has_prefix(file, "layers.");
    const bool file_is_vit = has_prefix(file, "blocks.") || file.find("cls_token");
    if (m.config.family == Family::ViT && file_is_swin && !file_is_vit)
        throw Error(ErrorKind::Checkpoint, head + "holds Swin weights (tensors named layers.*), but " +
                                               model_name + " is a ViT: choose a swin_* model");

    // Fill a fresh copy of the weights; the model keeps its own until all is well.
    Model loaded = make_model(m.config);
    struct Want {
        Tensor* dst;
        const TensorEntry* src;
    };
    std::vector<Want> wants;
    std::vector<std::string> missing, wrong_shape, wrong_dtype;
    std::set<std::string> expected;
    visit_params(loaded, [&](const std::string& name, Tensor& t, ParamKind, int64_t) {
        expected.insert(name);
        const TensorEntry* e = file.find(name);
        if (!e) {
            missing.push_back(name);
        } else if (e->shape != t.shape) {
            wrong_shape.push_back(name + ": expected " + shape_str(t.shape) + ", got " + shape_str(e->shape));
        } else if (!dtype_is_float(e->dtype)) {
            wrong_dtype.push_back(name + ": expected F32, F16, BF16 or F64, got " + dtype_name(e->dtype));
        } else {
            wants.push_back({&t, e});
        }
    });
    std::vector<std::string> unexpected;
    for (const auto& t : file.tensors())
        if (!expected.count(t.name)) unexpected.push_back(t.name);

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
    if (!problems.empty())
        throw Error(ErrorKind::Checkpoint, head + "does not fit " + model_name + ": " + problems);

    LoadReport report;
    report.layout = "timm";
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
        throw Error(ErrorKind::Checkpoint, head + "has NaN or infinite values in " +
                                               std::to_string(nonfinite.size()) + " tensors (" +
                                               list_some(nonfinite) + "); pass --allow-nonfinite to trace it anyway");
    m = std::move(loaded);
    return report;
}

}  // namespace vitrace

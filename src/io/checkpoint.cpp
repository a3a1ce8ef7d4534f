#include "io/checkpoint.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <set>

namespace vitrace {

namespace {

// "a, b, c and 4 more": keeps a one-line message short.
std::string list_some(const std::vector<std::string>& items, size_t max_items = 6) {
    std::string s;
    for (size_t i = 0; i < items.size() && i < max_items; i++) s += (i ? ", " : "") + items[i];
    if (items.size() > max_items) s += " and " + std::to_string(items.size() - max_items) + " more";
    return s;
}

bool has_marker(const SafetensorsFile& f, const Layout& layout) {
    Captures c;
    for (const auto& t : f.tensors())
        for (const std::string& m : layout.markers)
            if (match_name(m, t.name, c)) return true;
    return false;
}

// One model parameter and where its values come from.
struct Fill {
    Tensor* dst;
    Source::Kind kind;
    std::vector<const TensorEntry*> src;
    int part = 0, parts = 1;
};

// The model read through one layout: what fills each parameter, and every problem.
struct Plan {
    const Layout* layout = nullptr;
    std::vector<Fill> fills;
    LayoutUse use;
    std::vector<std::string> missing, unexpected, wrong_shape, wrong_dtype, bad_buffers;

    size_t problems() const {
        return missing.size() + unexpected.size() + wrong_shape.size() + wrong_dtype.size() + bad_buffers.size();
    }
    std::string describe() const {
        std::string s;
        auto add = [&](const std::vector<std::string>& items, const std::string& what) {
            if (items.empty()) return;
            s += (s.empty() ? "" : "; ") + std::to_string(items.size()) + " " + what + " (" + list_some(items) + ")";
        };
        add(missing, "missing");
        add(unexpected, "unexpected");
        add(wrong_shape, "with the wrong shape");
        add(wrong_dtype, "with a non-float dtype");
        add(bad_buffers, "buffers that do not match the model");
        return s;
    }
};

// The shape that a source gives the parameter, or the reason it cannot.
std::optional<std::string> check_shape(const Source& source, const std::vector<const TensorEntry*>& src,
                                       const Shape& want) {
    auto mismatch = [&](const Shape& got) {
        return "expected " + shape_str(want) + ", got " + shape_str(got);
    };
    if (source.kind == Source::Kind::Whole) {
        if (src[0]->shape != want) return src[0]->name + ": " + mismatch(src[0]->shape);
        return std::nullopt;
    }
    if (source.kind == Source::Kind::Reshaped) {
        if (reshaped_shape(src[0]->shape, source.rank) != want) return src[0]->name + ": " + mismatch(src[0]->shape);
        return std::nullopt;
    }
    if (source.kind == Source::Kind::Rows) {
        Shape got = src[0]->shape;
        if (got.empty() || got[0] % source.parts != 0) return src[0]->name + ": " + mismatch(got);
        got[0] /= source.parts;
        if (got != want) return src[0]->name + " (part " + std::to_string(source.part + 1) + " of " +
                                std::to_string(source.parts) + "): " + mismatch(got);
        return std::nullopt;
    }
    Shape joined = src[0]->shape;  // Concat: along axis 0
    std::string names = src[0]->name;
    for (size_t i = 1; i < src.size(); i++) {
        const Shape& s = src[i]->shape;
        if (joined.empty() || s.size() != joined.size() || !std::equal(s.begin() + 1, s.end(), joined.begin() + 1))
            return src[i]->name + ": " + shape_str(s) + " does not join " + shape_str(src[0]->shape) + " along axis 0";
        joined[0] += s[0];
        names += " + " + src[i]->name;
    }
    if (joined != want) return names + ": " + mismatch(joined);
    return std::nullopt;
}

Plan plan(Model& m, const SafetensorsFile& file, const Layout& layout) {
    Plan p;
    p.layout = &layout;
    std::set<std::string> used;
    visit_params(m, [&](const std::string& name, Tensor& t, ParamKind, int64_t) {
        const Source source = source_of(layout, name);
        Fill fill{&t, source.kind, {}, source.part, source.parts};
        if (source.kind == Source::Kind::Concat) p.use.concatenated++;
        else if (source.kind == Source::Kind::Rows) p.use.split++;
        else if (source.names[0] != name) p.use.renamed++;
        else p.use.as_is++;
        bool found = true;
        for (const std::string& n : source.names) {
            used.insert(n);
            const TensorEntry* e = file.find(n);
            if (!e) {
                p.missing.push_back(n);
                found = false;
            } else if (!dtype_is_float(e->dtype)) {
                p.wrong_dtype.push_back(n + ": expected F32, F16, BF16 or F64, got " + dtype_name(e->dtype));
                found = false;
            }
            fill.src.push_back(e);
        }
        if (!found) return;
        if (auto problem = check_shape(source, fill.src, t.shape)) {
            p.wrong_shape.push_back(*problem);
            return;
        }
        p.fills.push_back(std::move(fill));
    });

    // The buffers the layout may store, by their names in the file: the
    // model computes each, and a stored one must equal it (a flat copy counts).
    const Family& family = *m.config.family;
    std::map<std::string, Tensor> buffers;
    for (const AttentionLayer& layer : m.config.attention_layers())
        for (int b = 0; b < layer.blocks; b++)
            for (const LayoutBuffer& buffer : layout.buffers) {
                const int stage = layer.scope.stage, block = layer.scope.block + b;
                if (std::optional<Tensor> want = family.buffer(m.config.params, buffer.kind, stage, block))
                    buffers[fill_name(buffer.name, {{"s", std::to_string(stage)}, {"b", std::to_string(block)}})] =
                        std::move(*want);
            }
    for (const auto& e : file.tensors()) {
        if (used.count(e.name)) continue;
        Captures c;
        if (numel(e.shape) == 0 ||  // vit-pytorch's cls_token [0, dim] of a model without one
            std::any_of(layout.ignored.begin(), layout.ignored.end(),
                        [&](const std::string& pattern) { return match_name(pattern, e.name, c); })) {
            p.use.ignored.push_back(e.name);
            continue;
        }
        const auto buffer = buffers.find(e.name);
        if (buffer == buffers.end()) {  // includes a buffer of a block this model does not have
            p.unexpected.push_back(e.name);
            continue;
        }
        const Tensor& want = buffer->second;
        if (e.shape != want.shape && numel(e.shape) != want.numel()) {
            p.bad_buffers.push_back(e.name + ": expected " + shape_str(want.shape) + ", got " + shape_str(e.shape));
            continue;
        }
        p.use.buffers_checked++;
        std::vector<float> got(want.numel());
        file.read_floats(e, got.data());
        for (int64_t i = 0; i < want.numel(); i++)
            if (got[i] != want[i]) {
                p.bad_buffers.push_back(e.name + ": differs from the one vitrace computes (first at element " +
                                        std::to_string(i) + ")");
                break;
            }
    }
    return p;
}

// The values of one parameter from its sources.
void read_fill(const SafetensorsFile& file, const Fill& f) {
    Tensor& dst = *f.dst;
    dst.data.resize(dst.numel());  // unset: every branch below writes every value
    if (f.kind == Source::Kind::Whole || f.kind == Source::Kind::Reshaped) {
        file.read_floats(*f.src[0], dst.ptr());
    } else if (f.kind == Source::Kind::Rows) {
        std::vector<float> all(numel(f.src[0]->shape));
        file.read_floats(*f.src[0], all.data());
        std::copy_n(all.begin() + f.part * dst.numel(), dst.numel(), dst.data.begin());
    } else {
        float* at = dst.ptr();
        for (const TensorEntry* e : f.src) {
            file.read_floats(*e, at);
            at += numel(e->shape);
        }
    }
}

}  // namespace

std::string layout_problems(Model& m, const SafetensorsFile& file, const Layout& layout) {
    Model probe = make_model(m.config);
    return plan(probe, file, layout).describe();
}

LayoutUse layout_use(Model& m, const SafetensorsFile& file, const Layout& layout) {
    Model probe = make_model(m.config);
    return plan(probe, file, layout).use;
}

LoadReport load_checkpoint(Model& m, const std::string& path, const LoadOptions& opts) {
    return load_checkpoint(m, SafetensorsFile::open(path), opts);
}

LoadReport load_checkpoint(Model& m, const SafetensorsFile& file, const LoadOptions& opts,
                           const std::vector<Layout>* candidates) {
    const std::string head = "checkpoint " + file.what() + " ";
    const Family& family = *m.config.family;
    const std::vector<Layout>& all = candidates ? *candidates : layouts();

    // The layouts the file's names point to; a file of another family is refused outright.
    std::vector<const Layout*> mine, marked;
    for (const Layout& l : all)
        if (has_marker(file, l)) marked.push_back(&l);
    for (const Layout* l : marked)
        if (l->family == family.name) mine.push_back(l);
    if (mine.empty() && !marked.empty()) {
        const Family& other = family_named(marked[0]->family);
        throw Error(ErrorKind::Checkpoint, head + "holds " + other.display + " weights (" + marked[0]->identified_by +
                                               "), but " + m.config.name + " is a " + family.display + " model" +
                                               ": choose a " + other.name + "_* model");
    }
    if (mine.empty())  // nothing points anywhere: every layout of the family is a candidate
        for (const Layout& l : all)
            if (l.family == family.name) mine.push_back(&l);
    require(!mine.empty(), ErrorKind::Internal, "no checkpoint layout for the " + family.name + " family");

    // The first layout that fits, else the closest one. Planning needs only
    // the shapes, so each layout is tried on a shape-only model.
    std::optional<Plan> best;
    for (const Layout* l : mine) {
        Model probe = make_model(m.config);
        Plan p = plan(probe, file, *l);
        p.fills.clear();  // they point into the probe
        if (!best || p.problems() < best->problems()) best = std::move(p);
        if (best->problems() == 0) break;
    }
    if (best->problems() > 0)
        throw Error(ErrorKind::Checkpoint, head + "does not fit " + m.config.name + " (read as the " +
                                               best->layout->name + " layout): " + best->describe());

    // Fill a fresh copy of the weights; the model keeps its own until all is well.
    Model loaded = make_model(m.config);
    const Plan final_plan = plan(loaded, file, *best->layout);
    LoadReport report;
    report.layout = best->layout->name;
    std::vector<std::string> nonfinite;
    for (const Fill& f : final_plan.fills) {
        read_fill(file, f);
        int64_t bad = 0;
        for (float v : f.dst->data) bad += !std::isfinite(v);
        if (bad) nonfinite.push_back(f.src[0]->name + " (" + std::to_string(bad) + ")");
        report.tensors++;
        report.values += f.dst->numel();
    }
    if (!nonfinite.empty() && !opts.allow_nonfinite)
        throw Error(ErrorKind::Checkpoint, head + "has NaN or infinite values in " + std::to_string(nonfinite.size()) +
                                               " tensors (" + list_some(nonfinite) +
                                               "); pass --allow-nonfinite to trace it anyway");
    m = std::move(loaded);
    return report;
}

}  // namespace vitrace

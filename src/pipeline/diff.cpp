#include "pipeline/diff.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdio>

namespace vitrace {

const char* diff_status_name(DiffStatus s) {
    switch (s) {
        case DiffStatus::Compared: return "compared";
        case DiffStatus::ShapeMismatch: return "shape_mismatch";
        case DiffStatus::NoValues: return "no_values";
        case DiffStatus::OnlyInA: return "only_in_a";
        case DiffStatus::OnlyInB: return "only_in_b";
    }
    return "compared";
}

std::string difference_str(double v) {
    if (std::isinf(v)) return "inf";
    if (v == 0) return "0";
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.2e", v);
    return buf;
}

std::string multi_index_str(const std::vector<int64_t>& index, const std::vector<std::string>& dims) {
    std::string out = "[";
    for (size_t d = 0; d < index.size(); d++) {
        if (d) out += ", ";
        if (d < dims.size()) out += dims[d] + "=";
        out += std::to_string(index[d]);
    }
    return out + "]";
}

namespace {

// |a-b|, where two NaNs agree and a NaN against a number is infinitely far.
double distance(float a, float b) {
    if (std::isnan(a) || std::isnan(b)) return std::isnan(a) && std::isnan(b) ? 0.0 : INFINITY;
    if (a == b) return 0.0;  // equal infinities too
    return std::fabs((double)a - (double)b);
}

std::vector<int64_t> unravel(int64_t i, const Shape& shape) {
    std::vector<int64_t> index(shape.size());
    for (int d = (int)shape.size() - 1; d >= 0; d--) {
        index[d] = shape[d] ? i % shape[d] : 0;
        i = shape[d] ? i / shape[d] : 0;
    }
    return index;
}

void measure(StepDiff& d, const std::vector<float>& a, const std::vector<float>& b, double tol) {
    double sum = 0, dot = 0, aa = 0, bb = 0;
    for (size_t i = 0; i < a.size(); i++) {
        const double e = distance(a[i], b[i]);
        if (e > d.max_abs || std::isnan(e)) d.max_abs = e;
        const double scale = std::max(std::fabs((double)a[i]), std::fabs((double)b[i]));
        if (e > 0 && scale > 0) d.max_rel = std::max(d.max_rel, std::isinf(e) ? INFINITY : e / scale);
        sum += e;
        if (e > tol && d.first_beyond.empty()) d.first_beyond = unravel((int64_t)i, d.shape_a);
        if (std::isfinite(a[i]) && std::isfinite(b[i])) dot += (double)a[i] * b[i], aa += (double)a[i] * a[i], bb += (double)b[i] * b[i];
    }
    d.mean_abs = a.empty() ? 0 : sum / a.size();
    d.cosine = aa > 0 && bb > 0 ? dot / std::sqrt(aa * bb) : (aa == bb ? 1.0 : 0.0);
    d.within = d.max_abs <= tol;
}

bool close(const float* a, const float* b, size_t n, double tol) {
    for (size_t i = 0; i < n; i++)
        if (distance(a[i], b[i]) > tol) return false;
    return true;
}

// split_heads [3, heads, N, head_dim]: B's q, k, v as some other order of A's.
std::string qkv_order(const std::vector<float>& a, const std::vector<float>& b, const Shape& shape, double tol) {
    const size_t part = a.size() / 3;
    const char* names[] = {"q", "k", "v"};
    std::array<int, 3> p = {0, 1, 2};
    while (std::next_permutation(p.begin(), p.end())) {
        bool same = true;
        for (int j = 0; j < 3 && same; j++) same = close(&b[j * part], &a[p[j] * part], part, tol);
        if (same)
            return std::string("q, k and v come in another order: B's q, k, v are A's ") + names[p[0]] + ", " +
                   names[p[1]] + ", " + names[p[2]] + " (vitrace and timm split qkv [N, 3C] as (3, heads, head_dim))";
    }
    (void)shape;
    return "";
}

// patchify [n, 3·p·p]: the same pixels flattened as (c, py, px) in one and (py, px, c) in the other.
std::string patch_order(const std::vector<float>& a, const std::vector<float>& b, const Shape& shape, double tol) {
    const int64_t n = shape[0], dim = shape[1];
    const int64_t p = std::lround(std::sqrt(dim / 3.0));
    if (p * p * 3 != dim) return "";
    for (int64_t t = 0; t < n; t++)
        for (int64_t c = 0; c < 3; c++)
            for (int64_t py = 0; py < p; py++)
                for (int64_t px = 0; px < p; px++) {
                    const float va = a[t * dim + (c * p + py) * p + px];   // (c, py, px): a conv's weight order
                    const float vb = b[t * dim + (py * p + px) * 3 + c];   // (py, px, c): einops' (p1 p2 c)
                    if (distance(va, vb) > tol) return "";
                }
    return "the two flatten each patch in different orders: A as (c, p, p), a conv's, B as (p, p, c), einops' "
           "'(p1 p2 c)'; flatten B's patches as (c, p, p), or permute the projection's input columns to (p, p, c) "
           "and record patchify in (c, p, p) for the comparison";
}

double gelu_erf(double x) { return 0.5 * x * (1.0 + std::erf(x / std::sqrt(2.0))); }
double gelu_tanh(double x) {
    return 0.5 * x * (1.0 + std::tanh(std::sqrt(2.0 / M_PI) * (x + 0.044715 * x * x * x)));
}

// gelu: which form each side computed, from A's input to the step (the step before it).
std::string gelu_form(const std::vector<float>& input, const std::vector<float>& a, const std::vector<float>& b,
                      double tol) {
    auto matches = [&](const std::vector<float>& y, double (*f)(double)) {
        for (size_t i = 0; i < y.size(); i++)
            if (std::fabs(y[i] - f(input[i])) > std::max(tol, 1e-6 * std::fabs(y[i]))) return false;
        return true;
    };
    const bool a_erf = matches(a, gelu_erf), b_erf = matches(b, gelu_erf);
    const bool a_tanh = matches(a, gelu_tanh), b_tanh = matches(b, gelu_tanh);
    if (a_erf && b_tanh && !b_erf) return "B computes GELU's tanh approximation, A the exact erf form (nn.GELU(), timm)";
    if (a_tanh && b_erf && !a_erf) return "A computes GELU's tanh approximation, B the exact erf form (nn.GELU(), timm)";
    return "";
}

// What to check when a step of this op parts; "" when the op has no known pitfall.
std::string pitfall(const std::string& op, const std::string& name) {
    if (op == "layernorm")
        return "LayerNorm's eps differs between libraries: timm 1e-6, Hugging Face ViT 1e-12, PyTorch's default 1e-5";
    if (op == "gelu")
        return "GELU has an exact erf form (nn.GELU(), timm, torchvision) and a tanh approximation "
               "(approximate='tanh', 'gelu_new'); they differ by up to 4.7e-4";
    if (op == "split_heads")
        return "check the q/k/v order and the axes: qkv [N, 3C] splits as (3, heads, head_dim), not (heads, 3, head_dim)";
    if (op == "patchify")
        return "check the patch order: a conv flattens each patch as (c, p, p), einops' '(p1 p2 c)' as (p, p, c)";
    if (op == "resample_bicubic")
        return "pos_embed resampling: timm uses F.interpolate(mode='bicubic', antialias=True) on the grid without "
               "the prefix tokens; bilinear, antialias=False or align_corners give other values";
    if (op == "scale")
        return "check the scale: 1/sqrt(head_dim), applied once (timm multiplies q by it before q·kᵀ, vitrace the "
               "product: the same up to rounding); a missing or doubled scale is off by a factor of sqrt(head_dim)";
    if (op == "softmax" || op == "shifted_window_mask" || name.ends_with("attn.add_mask"))
        return "check the mask value (Swin uses -100; -inf or -1e9 give other rows where masked) and that the scale "
               "1/sqrt(head_dim) is applied once, before the softmax";
    return "";
}

std::string family_of(const nlohmann::json& model) {
    return model.is_object() && model.contains("family") && model["family"].is_string() ? model["family"].get<std::string>()
                                                                                         : "";
}

// A first divergence in a step without a pitfall of its own (a matmul, an add)
// usually has its cause earlier, in a step whose difference is still within
// the tolerance but has grown the most over the steps before it (measured from
// the first step that differs at all, where rounding begins). And attention
// steps just before it that only A has point to fused attention in B.
void explain_first_divergence(DiffResult& r) {
    StepDiff& first = r.steps[*r.first_divergence];
    // Inside a fused attention kernel: the steps between split_heads and weighted_sum.
    auto inside_attention = [](const std::string& name) {
        for (const char* leaf : {"attn.scores", "attn.scale", "attn.add_relative_position_bias", "attn.add_mask", "attn.softmax"})
            if (name.ends_with(leaf)) return true;
        return false;
    };
    std::vector<std::string> hidden;  // attention steps that B lacks, just before the first divergence
    for (size_t i = *r.first_divergence; i-- > 0 && r.steps[i].status == DiffStatus::OnlyInA && inside_attention(r.steps[i].name);)
        hidden.insert(hidden.begin(), r.steps[i].name);
    if (first.hint.empty() && first.status == DiffStatus::Compared) {
        constexpr double kGrowth = 3;  // less than this is what rounding does from step to step
        double before = 0, best = kGrowth;
        std::optional<size_t> grew;
        for (size_t i = 0; i < *r.first_divergence; i++) {
            const StepDiff& d = r.steps[i];
            if (d.status != DiffStatus::Compared) continue;
            if (before > 0 && d.max_abs / before >= best) best = d.max_abs / before, grew = i;
            before = std::max(before, d.max_abs);
        }
        if (grew) {
            const StepDiff& d = r.steps[*grew];
            const std::string why = pitfall(d.op, d.name);
            char times[32];
            std::snprintf(times, sizeof times, "%.1fx", best);
            first.hint = "the difference grows most at " + d.name + " (" + d.op + "), still within the tolerance: " +
                         difference_str(d.max_abs) + ", " + times + " the largest before it" + (why.empty() ? "" : "; " + why);
        }
    }
    if (!hidden.empty()) {
        // B's producer may have said why it could not record them (the dump's
        // `unseen`); then that is the reason, not fused attention.
        std::string names, why;
        for (size_t i = *r.first_divergence - hidden.size(); i < *r.first_divergence; i++) {
            names += (names.empty() ? "" : ", ") + r.steps[i].name;
            if (why.empty()) why = r.steps[i].unseen;
        }
        first.hint += std::string(first.hint.empty() ? "" : "; ") + "B lacks the steps just before it (" + names + "): " +
                      (why.empty() ? "fused attention hides them from hooks; turn it off to compare them "
                                     "(src/python/vitrace_hooks.py does)"
                                   : "its producer could not record them (" + why +
                                         "), so the cause may lie anywhere between the last step both have and this one");
    }
}

}  // namespace

DiffResult diff_traces(const TraceFile& a, const TraceFile& b, double tolerance) {
    const std::string fa = family_of(a.model()), fb = family_of(b.model());
    if (!fa.empty() && !fb.empty() && fa != fb)
        throw Error(ErrorKind::Config, "'" + a.path() + "' traces a " + fa + " model and '" + b.path() + "' a " + fb +
                                           " model: a diff needs two traces of the same model");
    DiffResult r;
    r.tolerance = tolerance;
    int common = 0;
    for (size_t i = 0; i < a.steps().size(); i++) {
        const TraceFile::StepInfo& sa = a.steps()[i];
        StepDiff d;
        d.name = sa.name, d.op = sa.op, d.dims = sa.dims, d.shape_a = sa.shape, d.status = DiffStatus::OnlyInA;
        const TraceFile::StepInfo* sb = b.find(sa.name);
        if (!sb) {
            d.unseen = b.unseen_reason(sa.name);
            r.steps.push_back(std::move(d));
            continue;
        }
        common++;
        d.shape_b = sb->shape;
        if (d.op.empty()) d.op = sb->op;
        if (sa.shape != sb->shape) {
            d.status = DiffStatus::ShapeMismatch;
            d.within = false;
        } else if (!sa.has_values || !sb->has_values) {
            d.status = DiffStatus::NoValues;
        } else {
            d.status = DiffStatus::Compared;
            const std::vector<float> va = a.values(i);
            const std::vector<float> vb = b.values(sb - b.steps().data());
            measure(d, va, vb, tolerance);
            r.compared++;
            if (!d.within) {
                std::string found;
                if (d.op == "split_heads" && sa.shape.size() == 4 && sa.shape[0] == 3) found = qkv_order(va, vb, sa.shape, tolerance);
                if (d.op == "patchify" && sa.shape.size() == 2) found = patch_order(va, vb, sa.shape, tolerance);
                if (d.op == "gelu" && i > 0 && a.steps()[i - 1].shape == sa.shape && a.steps()[i - 1].has_values)
                    found = gelu_form(a.values(i - 1), va, vb, tolerance);
                d.hint = found.empty() ? pitfall(d.op, d.name) : found;
            }
        }
        if (!d.within) {
            r.diverged++;
            if (!r.first_divergence) r.first_divergence = r.steps.size();
        }
        r.steps.push_back(std::move(d));
    }
    for (const TraceFile::StepInfo& sb : b.steps())
        if (!a.find(sb.name)) {
            StepDiff d;
            d.name = sb.name, d.op = sb.op, d.dims = sb.dims, d.shape_b = sb.shape, d.status = DiffStatus::OnlyInB;
            d.unseen = a.unseen_reason(sb.name);
            r.steps.push_back(std::move(d));
        }
    if (r.first_divergence) explain_first_divergence(r);
    if (common == 0)
        throw Error(ErrorKind::Input, "'" + a.path() + "' and '" + b.path() + "' have no step name in common: are both vitrace traces?");
    return r;
}

}  // namespace vitrace

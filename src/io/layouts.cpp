// The checkpoint layouts vitrace reads, one table each (io/layout.h).
#include "io/layout.h"

namespace vitrace {

namespace {

// Stored by timm, torchvision and Hugging Face alike; vitrace computes both.
const std::vector<LayoutBuffer> kSwinBuffers = {
    {"layers.{s}.blocks.{b}.attn.relative_position_index", BufferKind::RelativePositionIndex},
    {"layers.{s}.blocks.{b}.attn_mask", BufferKind::AttentionMask},
};

// timm's VisionTransformer: vitrace's own names.
Layout timm_vit() {
    return {"timm", "vit", "tensors named blocks.* and cls_token", {"cls_token", "blocks.{i}.{*}"}, {}, {}, {}};
}

// timm's SwinTransformer (timm >= 0.9): vitrace's own names. Patch merging
// opens stage s as layers.s.downsample; the classifier is head.fc.
Layout timm_swin() {
    return {"timm", "swin", "tensors named layers.*", {"layers.{s}.{*}"}, {}, kSwinBuffers, {}};
}

// The original Microsoft release (and timm before 0.9): the same patch merging
// closes stage s-1 as layers.(s-1).downsample; the classifier is head.
Layout microsoft_swin() {
    return {"microsoft",
            "swin",
            "tensors named layers.*",
            {"layers.{s}.{*}"},
            {
                {"layers.{s}.downsample.{*}", whole("layers.{s-1}.downsample.{*}")},
                {"head.fc.{*}", whole("head.{*}")},
            },
            kSwinBuffers,
            {}};
}

}  // namespace

const std::vector<Layout>& layouts() {
    static const std::vector<Layout> all = {
        timm_vit(),
        timm_swin(),
        microsoft_swin(),
    };
    return all;
}

Source whole(std::string name) { return {Source::Kind::Whole, {std::move(name)}, 0, 1}; }
Source rows(std::string name, int part, int parts) { return {Source::Kind::Rows, {std::move(name)}, part, parts}; }
Source concat(std::vector<std::string> names) { return {Source::Kind::Concat, std::move(names), 0, 1}; }

bool match_name(std::string_view pattern, std::string_view name, Captures& captures) {
    captures.clear();
    size_t p = 0, n = 0;
    while (p < pattern.size()) {
        if (pattern[p] != '{') {
            if (n >= name.size() || name[n] != pattern[p]) return false;
            p++, n++;
            continue;
        }
        const size_t close = pattern.find('}', p);
        const std::string key(pattern.substr(p + 1, close - p - 1));
        p = close + 1;
        if (key == "*") {  // the rest of the name
            captures[key] = std::string(name.substr(n));
            return p == pattern.size() && n < name.size();
        }
        const size_t start = n;
        while (n < name.size() && name[n] >= '0' && name[n] <= '9') n++;
        if (n == start || n - start > 6) return false;
        captures[key] = std::string(name.substr(start, n - start));
    }
    return n == name.size();
}

std::string fill_name(std::string_view pattern, const Captures& captures) {
    std::string out;
    size_t p = 0;
    while (p < pattern.size()) {
        if (pattern[p] != '{') {
            out += pattern[p++];
            continue;
        }
        const size_t close = pattern.find('}', p);
        std::string key(pattern.substr(p + 1, close - p - 1));
        p = close + 1;
        int offset = 0;
        if (const size_t minus = key.find('-'); minus != std::string::npos) {
            offset = -std::stoi(key.substr(minus + 1));
            key = key.substr(0, minus);
        }
        const std::string& value = captures.at(key);
        out += offset == 0 ? value : std::to_string(std::stoi(value) + offset);
    }
    return out;
}

}  // namespace vitrace

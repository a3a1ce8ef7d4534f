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

// Hugging Face transformers' ViTForImageClassification ("vit." before every
// name) and ViTModel as save_pretrained writes it (no prefix). Query, key and
// value are three Linear layers; vitrace's qkv is their rows, in that order.
Layout hf_vit(const std::string& p) {
    const std::string layer = p + "encoder.layer.{i}.";
    return {"hf",
            "vit",
            "tensors named " + p + "embeddings.* and " + p + "encoder.layer.*",
            {p + "embeddings.{*}", layer + "{*}"},
            {
                {"cls_token", whole(p + "embeddings.cls_token")},
                {"pos_embed", whole(p + "embeddings.position_embeddings")},
                {"patch_embed.proj.{*}", whole(p + "embeddings.patch_embeddings.projection.{*}")},
                {"blocks.{i}.norm1.{*}", whole(layer + "layernorm_before.{*}")},
                {"blocks.{i}.attn.qkv.{*}", concat({layer + "attention.attention.query.{*}",
                                                    layer + "attention.attention.key.{*}",
                                                    layer + "attention.attention.value.{*}"})},
                {"blocks.{i}.attn.proj.{*}", whole(layer + "attention.output.dense.{*}")},
                {"blocks.{i}.norm2.{*}", whole(layer + "layernorm_after.{*}")},
                {"blocks.{i}.mlp.fc1.{*}", whole(layer + "intermediate.dense.{*}")},
                {"blocks.{i}.mlp.fc2.{*}", whole(layer + "output.dense.{*}")},
                {"norm.{*}", whole(p + "layernorm.{*}")},
                {"head.{*}", whole("classifier.{*}")},
            },
            {},
            {p + "pooler.{*}"}};
}

// Hugging Face's SwinForImageClassification ("swin.") and SwinModel (none).
// Patch merging closes stage s as layers.s.downsample, as Microsoft's release.
Layout hf_swin(const std::string& p) {
    const std::string block = p + "encoder.layers.{s}.blocks.{b}.";
    return {"hf",
            "swin",
            "tensors named " + p + "embeddings.* and " + p + "encoder.layers.*",
            {p + "embeddings.{*}", p + "encoder.layers.{s}.{*}"},
            {
                {"patch_embed.proj.{*}", whole(p + "embeddings.patch_embeddings.projection.{*}")},
                {"patch_embed.norm.{*}", whole(p + "embeddings.norm.{*}")},
                {"layers.{s}.blocks.{b}.norm1.{*}", whole(block + "layernorm_before.{*}")},
                {"layers.{s}.blocks.{b}.attn.qkv.{*}",
                 concat({block + "attention.self.query.{*}", block + "attention.self.key.{*}",
                         block + "attention.self.value.{*}"})},
                {"layers.{s}.blocks.{b}.attn.relative_position_bias_table",
                 whole(block + "attention.self.relative_position_bias_table")},
                {"layers.{s}.blocks.{b}.attn.proj.{*}", whole(block + "attention.output.dense.{*}")},
                {"layers.{s}.blocks.{b}.norm2.{*}", whole(block + "layernorm_after.{*}")},
                {"layers.{s}.blocks.{b}.mlp.fc1.{*}", whole(block + "intermediate.dense.{*}")},
                {"layers.{s}.blocks.{b}.mlp.fc2.{*}", whole(block + "output.dense.{*}")},
                {"layers.{s}.downsample.{*}", whole(p + "encoder.layers.{s-1}.downsample.{*}")},
                {"norm.{*}", whole(p + "layernorm.{*}")},
                {"head.fc.{*}", whole("classifier.{*}")},
            },
            {{block + "attention.self.relative_position_index", BufferKind::RelativePositionIndex}},
            {}};
}

// torchvision's VisionTransformer (vit_b_16, ...): nn.MultiheadAttention keeps
// q, k and v as one in_proj, in qkv's order.
Layout torchvision_vit() {
    const std::string layer = "encoder.layers.encoder_layer_{i}.";
    return {"torchvision",
            "vit",
            "tensors named conv_proj.* and encoder.layers.encoder_layer_*",
            {"conv_proj.{*}", layer + "{*}"},
            {
                {"cls_token", whole("class_token")},
                {"pos_embed", whole("encoder.pos_embedding")},
                {"patch_embed.proj.{*}", whole("conv_proj.{*}")},
                {"blocks.{i}.norm1.{*}", whole(layer + "ln_1.{*}")},
                {"blocks.{i}.attn.qkv.weight", whole(layer + "self_attention.in_proj_weight")},
                {"blocks.{i}.attn.qkv.bias", whole(layer + "self_attention.in_proj_bias")},
                {"blocks.{i}.attn.proj.{*}", whole(layer + "self_attention.out_proj.{*}")},
                {"blocks.{i}.norm2.{*}", whole(layer + "ln_2.{*}")},
                {"blocks.{i}.mlp.fc1.{*}", whole(layer + "mlp.0.{*}")},
                {"blocks.{i}.mlp.fc2.{*}", whole(layer + "mlp.3.{*}")},
                {"norm.{*}", whole("encoder.ln.{*}")},
                {"head.{*}", whole("heads.head.{*}")},
            },
            {},
            {}};
}

// torchvision's SwinTransformer (swin_t, ...): one Sequential, features.0 the
// patch embedding, then stage s's blocks at features.(2s+1) and the patch
// merging that opens stage s at features.(2s).
Layout torchvision_swin() {
    const std::string block = "features.{s*2+1}.{b}.";
    return {"torchvision",
            "swin",
            "tensors named features.*",
            {"features.{k}.{b}.attn.qkv.weight"},
            {
                {"patch_embed.proj.{*}", whole("features.0.0.{*}")},
                {"patch_embed.norm.{*}", whole("features.0.2.{*}")},
                {"layers.{s}.blocks.{b}.norm1.{*}", whole(block + "norm1.{*}")},
                {"layers.{s}.blocks.{b}.attn.{*}", whole(block + "attn.{*}")},
                {"layers.{s}.blocks.{b}.norm2.{*}", whole(block + "norm2.{*}")},
                {"layers.{s}.blocks.{b}.mlp.fc1.{*}", whole(block + "mlp.0.{*}")},
                {"layers.{s}.blocks.{b}.mlp.fc2.{*}", whole(block + "mlp.3.{*}")},
                {"layers.{s}.downsample.{*}", whole("features.{s*2}.{*}")},
                {"head.fc.{*}", whole("head.{*}")},
            },
            {{block + "attn.relative_position_index", BufferKind::RelativePositionIndex}},
            {}};
}

// lucidrains' vit-pytorch, vit_pytorch/vit.py, from its August 2023 form
// (3e5d1be) on: Attention and FeedForward hold their own LayerNorm, the
// Transformer ends in a norm, mlp_head is one Linear (none for num_classes 0),
// and to_patch_embedding is Rearrange, LayerNorm(patch_dim), Linear,
// LayerNorm(dim). cls_token and pos_embedding are [1, 1, dim] and
// [1, n + 1, dim], since November 2025 [num_cls, dim] and [n + num_cls, dim]
// with num_cls 0 for pool='mean'. to_qkv has no bias; to_out is absent with
// 1 head of dim_head = dim.
Layout vit_pytorch() {
    const std::string layer = "transformer.layers.{i}.";
    return {"vit-pytorch",
            "vit",
            "tensors named transformer.layers.*.0.to_qkv (vit-pytorch, 2023 on)",
            {layer + "0.to_qkv.weight"},
            {
                {"cls_token", reshaped("cls_token", 3)},
                {"pos_embed", reshaped("pos_embedding", 3)},
                {"patch_embed.norm_in.{*}", whole("to_patch_embedding.1.{*}")},
                {"patch_embed.proj.{*}", whole("to_patch_embedding.2.{*}")},
                {"patch_embed.norm.{*}", whole("to_patch_embedding.3.{*}")},
                {"blocks.{i}.norm1.{*}", whole(layer + "0.norm.{*}")},
                {"blocks.{i}.attn.qkv.{*}", whole(layer + "0.to_qkv.{*}")},
                {"blocks.{i}.attn.proj.{*}", whole(layer + "0.to_out.0.{*}")},
                {"blocks.{i}.norm2.{*}", whole(layer + "1.net.0.{*}")},
                {"blocks.{i}.mlp.fc1.{*}", whole(layer + "1.net.1.{*}")},
                {"blocks.{i}.mlp.fc2.{*}", whole(layer + "1.net.4.{*}")},
                {"norm.{*}", whole("transformer.norm.{*}")},
                {"head.{*}", whole("mlp_head.{*}")},
            },
            {},
            {}};
}

// vit-pytorch before August 2023: each block's halves wrapped in
// PreNorm(dim, fn), which holds the LayerNorm as .norm and the module as .fn;
// no norm after the blocks; mlp_head is LayerNorm + Linear, after pooling.
// `patch_norm`: 1.0.0 (February 2023) added the LayerNorms around the patch
// Linear (to_patch_embedding.1, .2, .3); before it the Linear was
// to_patch_embedding.1, the form of the 2021 posts.
Layout vit_pytorch_prenorm(bool patch_norm) {
    const std::string layer = "transformer.layers.{i}.";
    std::vector<LayoutRule> rules = {
        {"cls_token", reshaped("cls_token", 3)},
        {"pos_embed", reshaped("pos_embedding", 3)},
        {"blocks.{i}.norm1.{*}", whole(layer + "0.norm.{*}")},
        {"blocks.{i}.attn.qkv.{*}", whole(layer + "0.fn.to_qkv.{*}")},
        {"blocks.{i}.attn.proj.{*}", whole(layer + "0.fn.to_out.0.{*}")},
        {"blocks.{i}.norm2.{*}", whole(layer + "1.norm.{*}")},
        {"blocks.{i}.mlp.fc1.{*}", whole(layer + "1.fn.net.0.{*}")},
        {"blocks.{i}.mlp.fc2.{*}", whole(layer + "1.fn.net.3.{*}")},
        {"fc_norm.{*}", whole("mlp_head.0.{*}")},
        {"head.{*}", whole("mlp_head.1.{*}")},
    };
    if (patch_norm)
        rules.insert(rules.end(), {{"patch_embed.norm_in.{*}", whole("to_patch_embedding.1.{*}")},
                                   {"patch_embed.proj.{*}", whole("to_patch_embedding.2.{*}")},
                                   {"patch_embed.norm.{*}", whole("to_patch_embedding.3.{*}")}});
    else
        rules.push_back({"patch_embed.proj.{*}", whole("to_patch_embedding.1.{*}")});
    return {patch_norm ? "vit-pytorch-prenorm" : "vit-pytorch-2021",
            "vit",
            "tensors named transformer.layers.*.0.fn.to_qkv (vit-pytorch's PreNorm, 2021 to 2023)",
            {layer + "0.fn.to_qkv.weight"},
            rules,
            {},
            {}};
}

// apple's ml-cvnets, cvnets/models/classification/vit.py (VisionTransformer)
// and cvnets/modules/transformer.py (TransformerEncoder): a conv stem
// (patch_emb.0 and .1 ConvLayer2d with BatchNorm and the activation, .2 the
// last conv with a bias), a learned position table [1, 1, n, C] added before
// the cls token joins, pre-norm blocks whose MultiHeadAttention keeps qkv_proj
// and out_proj, a norm after the blocks and a Linear classifier.
Layout ml_cvnets() {
    const std::string block = "transformer.{i}.";
    return {"ml-cvnets",
            "vit",
            "tensors named transformer.*.pre_norm_mha (ml-cvnets' TransformerEncoder)",
            {block + "pre_norm_mha.{*}"},
            {
                {"patch_embed.stem.{k}.conv.{*}", whole("patch_emb.{k}.block.conv.{*}")},
                {"patch_embed.stem.{k}.bn.{*}", whole("patch_emb.{k}.block.norm.{*}")},
                {"patch_embed.proj.{*}", whole("patch_emb.2.block.conv.{*}")},
                {"pos_embed", reshaped("pos_embed.pos_embed.pos_embed", 3)},
                {"blocks.{i}.norm1.{*}", whole(block + "pre_norm_mha.0.{*}")},
                {"blocks.{i}.attn.qkv.{*}", whole(block + "pre_norm_mha.1.qkv_proj.{*}")},
                {"blocks.{i}.attn.proj.{*}", whole(block + "pre_norm_mha.1.out_proj.{*}")},
                {"blocks.{i}.norm2.{*}", whole(block + "pre_norm_ffn.0.{*}")},
                {"blocks.{i}.mlp.fc1.{*}", whole(block + "pre_norm_ffn.1.{*}")},
                {"blocks.{i}.mlp.fc2.{*}", whole(block + "pre_norm_ffn.4.{*}")},
                {"norm.{*}", whole("post_transformer_norm.{*}")},
                {"head.{*}", whole("classifier.{*}")},
            },
            {},
            {"patch_emb.{k}.block.norm.num_batches_tracked"}};
}

}  // namespace

const std::vector<Layout>& layouts() {
    static const std::vector<Layout> all = {
        timm_vit(),      timm_swin(),     microsoft_swin(), hf_vit("vit."), hf_vit(""),
        hf_swin("swin."), hf_swin(""),   torchvision_vit(), torchvision_swin(),
        vit_pytorch(),   vit_pytorch_prenorm(true), vit_pytorch_prenorm(false), ml_cvnets(),
    };
    return all;
}

Source whole(std::string name) { return {Source::Kind::Whole, {std::move(name)}, 0, 1}; }
Source rows(std::string name, int part, int parts) { return {Source::Kind::Rows, {std::move(name)}, part, parts}; }
Source concat(std::vector<std::string> names) { return {Source::Kind::Concat, std::move(names), 0, 1}; }
Source reshaped(std::string name, int rank) { return {Source::Kind::Reshaped, {std::move(name)}, 0, 1, rank}; }

Shape reshaped_shape(const Shape& shape, int rank) {
    size_t first = 0;
    while (first < shape.size() && shape[first] == 1) first++;
    Shape out(shape.begin() + first, shape.end());
    while ((int)out.size() < rank) out.insert(out.begin(), 1);
    return out;
}

Source source_of(const Layout& layout, const std::string& param) {
    Captures c;
    for (const LayoutRule& r : layout.rules)
        if (match_name(r.param, param, c)) {
            Source source = r.source;
            for (std::string& n : source.names) n = fill_name(n, c);
            return source;
        }
    return whole(param);
}

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
        // {s}, {s-1}, {s*2}, {s*2+1}: the capture, times a factor, plus an offset
        int factor = 1, offset = 0;
        const size_t op = key.find_first_of("*+-", 1);  // "{*}" is the rest of a name, no operator
        if (op != std::string::npos) {
            std::string rest = key.substr(op);
            key = key.substr(0, op);
            if (rest[0] == '*') {
                size_t used = 0;
                factor = std::stoi(rest.substr(1), &used);
                rest = rest.substr(1 + used);
            }
            if (!rest.empty()) offset = std::stoi(rest);  // "+1" or "-1"
        }
        const std::string& value = captures.at(key);
        out += factor == 1 && offset == 0 ? value : std::to_string(std::stoi(value) * factor + offset);
    }
    return out;
}

}  // namespace vitrace

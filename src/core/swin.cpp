#include "core/swin.h"

#include <cmath>

#include "core/activation.h"
#include "core/attention.h"
#include "core/patch.h"
#include "core/tokens.h"
#include "core/window.h"

namespace vitrace {

void validate(const SwinConfig& cfg) {
    auto require = [](bool ok, const std::string& message) { vitrace::require(ok, ErrorKind::Config, message); };
    const auto str = [](auto v) { return std::to_string(v); };
    require(cfg.image_size > 0, "image size must be positive, got " + str(cfg.image_size));
    require(cfg.patch > 0, "patch size must be positive, got " + str(cfg.patch));
    require(cfg.embed_dim > 0, "embed dim must be positive, got " + str(cfg.embed_dim));
    require(cfg.window > 0, "window must be positive, got " + str(cfg.window));
    require(cfg.classes > 0, "classes must be positive, got " + str(cfg.classes));
    require(cfg.mlp_ratio > 0 && cfg.mlp_ratio <= 64, "mlp ratio must be in (0, 64], got " + str(cfg.mlp_ratio));
    require(!cfg.depths.empty() && cfg.depths.size() <= 8, "depths must list 1 to 8 stages, got " + str(cfg.depths.size()));
    require(cfg.heads.size() == cfg.depths.size(), "heads must list one number per stage: " +
                                                       str(cfg.depths.size()) + " stages, " + str(cfg.heads.size()) +
                                                       " heads");
    require(cfg.image_size <= 16384 && cfg.classes <= 1000000 &&
                (int64_t)cfg.embed_dim << (cfg.stages() - 1) <= 65536,
            "config is beyond vitrace's limits (image size <= 16384, channels <= 65536, classes <= 1000000)");
    require(cfg.image_size % cfg.patch == 0, "image size " + str(cfg.image_size) + " is not divisible by patch size " +
                                                 str(cfg.patch) + ": use a multiple of " + str(cfg.patch));
    int grid = cfg.image_size / cfg.patch;
    for (int s = 0; s < cfg.stages(); s++) {
        const std::string stage = "stage " + str(s) + " (layers." + str(s) + ")";
        require(cfg.depths[s] > 0 && cfg.depths[s] <= 1024, stage + ": depth must be 1 to 1024, got " + str(cfg.depths[s]));
        require(cfg.heads[s] > 0, stage + ": heads must be positive, got " + str(cfg.heads[s]));
        if (s > 0) {
            require(grid % 2 == 0, stage + ": patch merging halves the " + str(grid) + "x" + str(grid) +
                                       " grid of stage " + str(s - 1) + ", which is odd; image size " +
                                       str(cfg.image_size) + " does not fit patch " + str(cfg.patch) + " and " +
                                       str(cfg.stages()) + " stages");
            grid /= 2;
        }
        const int M = cfg.window_at(s);
        require(grid % M == 0, stage + ": the " + str(grid) + "x" + str(grid) + " grid is not divisible by window " +
                                   str(M) + "; use an image size that is a multiple of patch x window x 2^stage (" +
                                   str(cfg.patch * cfg.window << s) + ")");
        require(cfg.channels(s) % cfg.heads[s] == 0, stage + ": heads " + str(cfg.heads[s]) +
                                                         " do not divide its " + str(cfg.channels(s)) + " channels");
        require(static_cast<int>(cfg.channels(s) * cfg.mlp_ratio) > 0, stage + ": mlp ratio gives no hidden units");
    }
}

SwinWeights make_swin_weights(const SwinConfig& cfg) {
    const int64_t P = cfg.patch;
    SwinWeights w;
    w.patch_embed = {Tensor::shape_only({cfg.embed_dim, 3, P, P}), Tensor::shape_only({cfg.embed_dim})};
    w.patch_norm = layernorm_shape(cfg.embed_dim, cfg.norm_eps);
    w.layers.resize(cfg.stages());
    for (int s = 0; s < cfg.stages(); s++) {
        const int64_t C = cfg.channels(s), M = cfg.window_at(s);
        const int64_t hidden = static_cast<int64_t>(C * cfg.mlp_ratio);
        SwinStage& st = w.layers[s];
        if (s > 0) st.downsample = {layernorm_shape(2 * C, cfg.norm_eps), linear_shape(C, 2 * C, false)};
        st.blocks.resize(cfg.depths[s]);
        for (SwinBlock& b : st.blocks) {
            b.norm1 = layernorm_shape(C, cfg.norm_eps);
            b.qkv = linear_shape(3 * C, C);
            b.relative_position_bias_table = Tensor::shape_only({(2 * M - 1) * (2 * M - 1), cfg.heads[s]});
            b.proj = linear_shape(C, C);
            b.norm2 = layernorm_shape(C, cfg.norm_eps);
            b.fc1 = linear_shape(hidden, C);
            b.fc2 = linear_shape(C, hidden);
        }
    }
    w.norm = layernorm_shape(cfg.features(), cfg.norm_eps);
    w.head = linear_shape(cfg.classes, cfg.features());
    return w;
}

namespace {

// Buffers of the blocks, reused from one block to the next.
struct BlockBuffers {
    Tensor xn;       // [H, W, C]             normalised x
    Tensor shifted;  // [H, W, C]             after the cyclic shift
    Tensor windows;  // [nW, T, C]
    Tensor qkv;      // [nW, T, 3C]
    Tensor qkvh;     // [3, nW, heads, T, head_dim]
    Tensor attn;     // [nW, heads, T, T]
    Tensor index;    // [T, T]
    Tensor bias;     // [heads, T, T]
    Tensor mask;     // [nW, T, T]
    Tensor o;        // [nW, heads, T, head_dim]
    Tensor merged;   // [nW, T, C]
    Tensor branch;   // [nW, T, C], then [H, W, C]: output of attn or mlp before the residual add
    Tensor hidden;   // [H, W, hidden]
};

// timm: SwinTransformerBlock.forward
// x [H, W, C], updated in place
void swin_block(Tensor& x, const SwinBlock& b, int M, int shift, int heads, const std::string& p, BlockBuffers& t,
                Trace& trace) {
    const int H = static_cast<int>(x.dim(0)), W = static_cast<int>(x.dim(1));
    const float scale = 1.0f / std::sqrt(static_cast<float>(x.dim(2) / heads));

    // timm: x = x + self._attn(self.norm1(x))
    layernorm(t.xn, x, b.norm1);
    trace.record(p + "norm1", "layernorm", t.xn, {"H", "W", "C"});
    const Tensor* source = &t.xn;
    if (shift > 0) {  // cyclic shift
        cyclic_shift(t.shifted, t.xn, -shift);
        trace.record(p + "cyclic_shift", "cyclic_shift", t.shifted, {"H", "W", "C"});
        source = &t.shifted;
    }
    window_partition(t.windows, *source, M);  // partition windows
    trace.record(p + "window_partition", "window_partition", t.windows, {"windows", "window_tokens", "C"});

    // W-MSA / SW-MSA. timm: WindowAttention.forward
    linear(t.qkv, t.windows, b.qkv);
    trace.record(p + "attn.qkv", "linear", t.qkv, {"windows", "window_tokens", "3C"});
    split_heads(t.qkvh, t.qkv, heads);
    trace.record(p + "attn.split_heads", "split_heads", t.qkvh,
                 {"qkv", "windows", "heads", "window_tokens", "head_dim"});
    attention_scores(t.attn, t.qkvh);
    trace.record(p + "attn.scores", "matmul", t.attn, {"windows", "heads", "window_tokens", "window_tokens"});
    scale_scores(t.attn, scale);
    trace.record(p + "attn.scale", "scale", t.attn, {"windows", "heads", "window_tokens", "window_tokens"});
    trace.record(p + "attn.relative_position_bias_table", "parameter", b.relative_position_bias_table,
                 {"relative_positions", "heads"});
    relative_position_index(t.index, M);
    trace.record(p + "attn.relative_position_index", "relative_position_index", t.index,
                 {"window_tokens", "window_tokens"});
    relative_position_bias(t.bias, b.relative_position_bias_table, t.index);
    trace.record(p + "attn.relative_position_bias", "gather", t.bias, {"heads", "window_tokens", "window_tokens"});
    add_relative_position_bias(t.attn, t.bias);
    trace.record(p + "attn.add_relative_position_bias", "add", t.attn,
                 {"windows", "heads", "window_tokens", "window_tokens"});
    if (shift > 0) {
        shifted_window_mask(t.mask, H, W, M, shift);
        trace.record(p + "attn_mask", "shifted_window_mask", t.mask, {"windows", "window_tokens", "window_tokens"});
        add_attention_mask(t.attn, t.mask);
        trace.record(p + "attn.add_mask", "add", t.attn, {"windows", "heads", "window_tokens", "window_tokens"});
    }
    softmax_rows(t.attn);
    trace.record(p + "attn.softmax", "softmax", t.attn, {"windows", "heads", "window_tokens", "window_tokens"});
    weighted_sum(t.o, t.attn, t.qkvh);
    trace.record(p + "attn.weighted_sum", "matmul", t.o, {"windows", "heads", "window_tokens", "head_dim"});
    merge_heads(t.merged, t.o);
    trace.record(p + "attn.merge_heads", "merge_heads", t.merged, {"windows", "window_tokens", "C"});
    linear(t.branch, t.merged, b.proj);
    trace.record(p + "attn.proj", "linear", t.branch, {"windows", "window_tokens", "C"});

    window_reverse(t.shifted, t.branch, H, W);  // merge windows
    trace.record(p + "window_reverse", "window_reverse", t.shifted, {"H", "W", "C"});
    const Tensor* attn_out = &t.shifted;
    if (shift > 0) {  // reverse cyclic shift
        cyclic_shift(t.branch, t.shifted, shift);
        trace.record(p + "reverse_cyclic_shift", "cyclic_shift", t.branch, {"H", "W", "C"});
        attn_out = &t.branch;
    }
    add(x, x, *attn_out);
    trace.record(p + "residual1", "add", x, {"H", "W", "C"});

    // timm: x = x + self.mlp(self.norm2(x))
    layernorm(t.xn, x, b.norm2);
    trace.record(p + "norm2", "layernorm", t.xn, {"H", "W", "C"});
    linear(t.hidden, t.xn, b.fc1);
    trace.record(p + "mlp.fc1", "linear", t.hidden, {"H", "W", "hidden"});
    gelu(t.hidden, t.hidden);
    trace.record(p + "mlp.act", "gelu", t.hidden, {"H", "W", "hidden"});
    linear(t.branch, t.hidden, b.fc2);
    trace.record(p + "mlp.fc2", "linear", t.branch, {"H", "W", "C"});
    add(x, x, t.branch);
    trace.record(p + "residual2", "add", x, {"H", "W", "C"});
}

}  // namespace

Tensor swin_forward(const SwinConfig& cfg, const SwinWeights& w, const Tensor& image, Trace& trace) {
    const int64_t grid = cfg.resolution(0);

    // timm: x = self.patch_embed(x), the Conv2d as patchify + linear, channels last
    Tensor patches;  // [H·W, 3·P·P]
    patchify(patches, image, cfg.patch);
    trace.record("patch_embed.patchify", "patchify", patches, {"n", "patch_dim"});
    Tensor x;  // [H, W, C], the residual stream
    linear(x, patches, w.patch_embed);
    x.shape = {grid, grid, cfg.embed_dim};
    trace.record("patch_embed.proj", "linear", x, {"H", "W", "C"});
    layernorm(x, x, w.patch_norm);
    trace.record("patch_embed.norm", "layernorm", x, {"H", "W", "C"});

    BlockBuffers buffers;
    Tensor merged;  // [H/2, W/2, 4C]
    for (int s = 0; s < cfg.stages(); s++) {
        const SwinStage& st = w.layers[s];
        const std::string p = "layers." + std::to_string(s) + ".";
        if (s > 0) {
            // timm: x = self.downsample(x), patch merging
            patch_merge(merged, x);
            trace.record(p + "downsample.merge", "patch_merge", merged, {"H", "W", "4C"});
            layernorm(merged, merged, st.downsample.norm);
            trace.record(p + "downsample.norm", "layernorm", merged, {"H", "W", "4C"});
            linear(x, merged, st.downsample.reduction);
            trace.record(p + "downsample.reduction", "linear", x, {"H", "W", "C"});
        }
        const int M = cfg.window_at(s), shift = cfg.shift_at(s);
        for (size_t b = 0; b < st.blocks.size(); b++) {
            const std::string q = p + "blocks." + std::to_string(b) + ".";
            swin_block(x, st.blocks[b], M, b % 2 == 1 ? shift : 0, cfg.heads[s], q, buffers, trace);
        }
    }

    // timm: x = self.norm(x); x = self.head.global_pool(x); x = self.head.fc(x)
    layernorm(x, x, w.norm);
    trace.record("norm", "layernorm", x, {"H", "W", "C"});
    Tensor pooled;  // [C]
    pool_mean(pooled, x, 0);
    trace.record("head.global_pool", "pool_mean", pooled, {"C"});
    Tensor logits;  // [classes]
    linear(logits, pooled, w.head);
    trace.record("head.fc", "linear", logits, {"classes"});
    return logits;
}

}  // namespace vitrace

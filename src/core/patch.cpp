#include "core/patch.h"

#include <cmath>

#include <algorithm>

namespace vitrace {

void patchify(Tensor& patches, const Tensor& image, int P) {
    const int64_t H = image.dim(1), W = image.dim(2);
    const int64_t h = H / P, w = W / P;
    const int64_t patch_dim = 3 * P * P;
    if (!prepare(patches, {h * w, patch_dim}, image)) return;
    for (int64_t py = 0; py < h; py++) {
        for (int64_t px = 0; px < w; px++) {
            float* p_n = &patches[(py * w + px) * patch_dim];  // patches[p, :], patch p = py·w + px
            for (int64_t c = 0; c < 3; c++)
                for (int64_t ky = 0; ky < P; ky++)
                    for (int64_t kx = 0; kx < P; kx++)
                        // image[c, py·P + ky, px·P + kx] -> patches[p, (c·P + ky)·P + kx]
                        p_n[(c * P + ky) * P + kx] = image[(c * H + py * P + ky) * W + px * P + kx];
        }
    }
}

void patchify_hwc(Tensor& patches, const Tensor& image, int P) {
    const int64_t H = image.dim(1), W = image.dim(2);
    const int64_t h = H / P, w = W / P;
    const int64_t patch_dim = P * P * 3;
    if (!prepare(patches, {h * w, patch_dim}, image)) return;
    for (int64_t py = 0; py < h; py++)
        for (int64_t px = 0; px < w; px++) {
            float* p_n = &patches[(py * w + px) * patch_dim];
            for (int64_t ky = 0; ky < P; ky++)          // p1
                for (int64_t kx = 0; kx < P; kx++)      // p2
                    for (int64_t c = 0; c < 3; c++)     // c, the fastest
                        // image[c, py·P + ky, px·P + kx] -> patches[p, (ky·P + kx)·3 + c]
                        p_n[(ky * P + kx) * 3 + c] = image[(c * H + py * P + ky) * W + px * P + kx];
        }
}

void conv_patches(Tensor& out, const Tensor& x, bool channels_last, int k, int s, int pad) {
    const int64_t in = channels_last ? x.dim(2) : x.dim(0);
    const int64_t H = channels_last ? x.dim(0) : x.dim(1), W = channels_last ? x.dim(1) : x.dim(2);
    const int64_t oh = (H + 2 * pad - k) / s + 1, ow = (W + 2 * pad - k) / s + 1;
    const int64_t cols = in * k * k;
    if (!prepare(out, {oh * ow, cols}, x)) return;
    for (int64_t oy = 0; oy < oh; oy++)
        for (int64_t ox = 0; ox < ow; ox++) {
            float* row = &out[(oy * ow + ox) * cols];
            for (int64_t c = 0; c < in; c++)
                for (int64_t ky = 0; ky < k; ky++)
                    for (int64_t kx = 0; kx < k; kx++) {
                        const int64_t y = oy * s - pad + ky, xx = ox * s - pad + kx;  // the input pixel
                        const bool inside = y >= 0 && y < H && xx >= 0 && xx < W;
                        row[(c * k + ky) * k + kx] =
                            !inside ? 0.0f : channels_last ? x[(y * W + xx) * in + c] : x[(c * H + y) * W + xx];
                    }
        }
}

void patch_embed_conv(Tensor& out, const Tensor& image, const Linear& proj, int P) {
    const int64_t H = image.dim(1), W = image.dim(2);
    const int64_t h = H / P, w = W / P;
    const int64_t C = proj.weight.dim(0);
    count_macs(C * h * w * 3 * P * P);
    if (!prepare(out, {C, h, w}, image)) return;
    for (int64_t co = 0; co < C; co++) {
        const float* k_co = &proj.weight[co * 3 * P * P];  // weight[co, :, :, :], the kernel of channel co
        for (int64_t oy = 0; oy < h; oy++) {
            for (int64_t ox = 0; ox < w; ox++) {
                // With stride = kernel = P the kernel never overlaps itself: output
                // (oy, ox) sees exactly the pixels of patch n = oy·w + ox.
                float acc = 0.0f;
                for (int64_t ci = 0; ci < 3; ci++)
                    for (int64_t ky = 0; ky < P; ky++)
                        for (int64_t kx = 0; kx < P; kx++)
                            acc += k_co[(ci * P + ky) * P + kx] * image[(ci * H + oy * P + ky) * W + ox * P + kx];
                out[(co * h + oy) * w + ox] = acc + (proj.has_bias() ? proj.bias[co] : 0.0f);
            }
        }
    }
}

void patch_merge(Tensor& out, const Tensor& x) {
    const int64_t H = x.dim(0), W = x.dim(1), C = x.dim(2);
    const int64_t H2 = H / 2, W2 = W / 2;
    if (!prepare_to_overwrite(out, {H2, W2, 4 * C}, x)) return;
    // (row offset, column offset) of the four parts, in channel order
    constexpr int offsets[4][2] = {{0, 0}, {1, 0}, {0, 1}, {1, 1}};
    for (int64_t i = 0; i < H2; i++) {
        for (int64_t j = 0; j < W2; j++) {
            float* o_ij = &out[(i * W2 + j) * 4 * C];  // out[i, j, :]
            for (int part = 0; part < 4; part++) {
                const int64_t y = 2 * i + offsets[part][0];
                const int64_t xx = 2 * j + offsets[part][1];
                const float* src = &x[(y * W + xx) * C];  // x[y, xx, :]
                std::copy(src, src + C, o_ij + part * C);
            }
        }
    }
}

int square_side(int64_t n) {
    const int64_t r = static_cast<int64_t>(std::lround(std::sqrt(static_cast<double>(n))));
    return n > 0 && r * r == n ? static_cast<int>(r) : 0;
}

}  // namespace vitrace

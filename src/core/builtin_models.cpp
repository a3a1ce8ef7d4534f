// The built-in models, one line each: timm's configurations of ViT and Swin,
// and the two small models trained on data/shapes.py's dataset (data/README.md).
#include "core/model.h"
#include "core/swin.h"
#include "core/vit.h"

namespace vitrace {

namespace {

ModelConfig vit(std::string name, VitConfig c, std::string summary) {
    return model_config(std::move(name), vit_family(), std::move(c), std::move(summary));
}

ModelConfig swin(std::string name, SwinConfig c, std::string summary) {
    return model_config(std::move(name), swin_family(), std::move(c), std::move(summary));
}

// Ships trained weights in data/ and knows its class names.
ModelConfig trained(ModelConfig m, std::string weights_file) {
    m.class_names = {"circle", "square", "triangle", "cross", "ring"};
    m.weights_file = std::move(weights_file);
    return m;
}

}  // namespace

const std::vector<ModelConfig>& builtin_models() {
    static const std::vector<ModelConfig> models = {
        vit("vit_tiny_patch16_224", {.patch = 16, .width = 192, .depth = 12, .heads = 3},
            "ViT-Ti/16, 196 patches"),
        vit("vit_small_patch16_224", {.patch = 16, .width = 384, .depth = 12, .heads = 6},
            "ViT-S/16, 196 patches"),
        vit("vit_base_patch16_224", {.patch = 16, .width = 768, .depth = 12, .heads = 12},
            "ViT-B/16, 196 patches"),
        vit("vit_base_patch32_224", {.patch = 32, .width = 768, .depth = 12, .heads = 12},
            "ViT-B/32, 49 patches"),
        vit("vit_large_patch16_224", {.patch = 16, .width = 1024, .depth = 24, .heads = 16},
            "ViT-L/16, 196 patches"),
        swin("swin_tiny_patch4_window7_224", {.embed_dim = 96, .depths = {2, 2, 6, 2}, .heads = {3, 6, 12, 24}},
             "Swin-T, 7x7 windows"),
        swin("swin_small_patch4_window7_224", {.embed_dim = 96, .depths = {2, 2, 18, 2}, .heads = {3, 6, 12, 24}},
             "Swin-S, 7x7 windows"),
        swin("swin_base_patch4_window7_224", {.embed_dim = 128, .depths = {2, 2, 18, 2}, .heads = {4, 8, 16, 32}},
             "Swin-B, 7x7 windows"),
        swin("swin_large_patch4_window7_224", {.embed_dim = 192, .depths = {2, 2, 18, 2}, .heads = {6, 12, 24, 48}},
             "Swin-L, 7x7 windows"),
        swin("swin_base_patch4_window12_384",
             {.image_size = 384, .embed_dim = 128, .depths = {2, 2, 18, 2}, .heads = {4, 8, 16, 32}, .window = 12},
             "Swin-B, 12x12 windows"),
        trained(vit("vit_shapes",
                    {.image_size = 64, .patch = 8, .width = 64, .depth = 4, .heads = 4, .mlp_ratio = 2.0, .classes = 5},
                    "trained: data/shapes.py"),
                "vit_shapes.safetensors"),
        trained(swin("swin_shapes",
                     {.image_size = 64, .embed_dim = 32, .depths = {2, 2, 2}, .heads = {2, 4, 8}, .window = 4,
                      .mlp_ratio = 2.0, .classes = 5},
                     "trained: data/shapes.py"),
                 "swin_shapes.safetensors"),
    };
    return models;
}

}  // namespace vitrace

// The attention pictures: where the attention goes, drawn from a trace that
// holds the full values of attention_picture_roles(). `vitrace attention`
// writes them as PNG files and `vitrace report` shows the same pictures in
// its page, so both come from here.
//
// ViT (global attention): the query's attention per head over the image (the
// cls token by default, or a patch), every head of a block in one labelled
// grid, and the attention rollout through all blocks.
// Swin (windowed attention): one query token's attention inside its window in
// a regular and a shifted block, with the window grid, the query and its
// window outlined; the shifted-window mask per window; the relative position
// index; a head's relative position bias and its table.
// Every picture has a title above and a legend strip below: the colour bar,
// the value range and what the colours mean.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "core/model.h"
#include "core/trace.h"
#include "io/picture.h"

namespace vitrace {

struct AttentionPictureOptions {
    std::optional<int> layer;  // ViT block (default: the last), Swin stage (default: 0)
    std::optional<int> head;   // ViT: only this head's own picture; Swin: this head instead of the mean
    std::vector<int> query;    // {row, col} in the layer's grid; ViT default: the cls token, Swin: the centre
};

struct AttentionPicture {
    std::string file;     // "vit_heads_layer3.png"
    std::string caption;  // one line: what it shows
    Picture picture;
};

struct AttentionPictures {
    std::vector<AttentionPicture> pictures;
    std::vector<std::string> notes;  // what could not be drawn, and why
};

// The roles whose full values the pictures read.
std::vector<Role> attention_picture_roles();

// Throws Error(Usage) for a layer, head or query outside the model, naming the flag.
void check_attention_picture_options(const ModelConfig& cfg, const AttentionPictureOptions& o);

AttentionPictures attention_pictures(const ModelConfig& cfg, const Trace& trace, const AttentionPictureOptions& o);

}  // namespace vitrace

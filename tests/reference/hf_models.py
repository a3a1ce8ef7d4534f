"""Hugging Face's ViT and Swin as module trees with their forward passes, for
the Hugging Face path of src/python/vitrace_hooks.py (transformers is not
installed here).

The module names, the nesting, the call signatures (which arguments are
positional) and the tuples each module returns follow transformers'
src/transformers/models/vit/modeling_vit.py (ViTEmbeddings, ViTSelfAttention,
ViTSelfOutput, ViTAttention, ViTIntermediate, ViTOutput, ViTLayer, ViTEncoder,
ViTModel, ViTPooler, ViTForImageClassification) and models/swin/modeling_swin.py
(SwinEmbeddings, SwinPatchEmbeddings, SwinPatchMerging, SwinSelfAttention,
SwinSelfOutput, SwinAttention, SwinIntermediate, SwinOutput, SwinLayer,
SwinStage, SwinEncoder, SwinModel, SwinForImageClassification), so that a state
dict in Hugging Face's names (layouts.py) loads with strict=True and a forward
hook fires where it would in transformers. What the hooks rely on:

- ViTSelfAttention returns (context, probabilities) with output_attentions, and
  computes the probabilities only with eager attention (config._attn_implementation):
  the default here is "sdpa", one fused call with no probabilities, as in transformers;
- SwinLayer calls its attention with the window tokens and the shift mask as
  positional arguments, and fixes its shift and window size in forward;
- the MLP activation is the module `intermediate_act_fn`.

No dropout, head masks, padding, mask tokens or position interpolation: one
image whose grids the windows divide, in eval mode.
"""

import math

import torch
import torch.nn as nn


class Config:
    """The ViTConfig / SwinConfig fields the trees read."""

    def __init__(self, **fields):
        self._attn_implementation = "sdpa"
        self.output_attentions = False
        self.__dict__.update(fields)


def _heads(x, heads):  # [B, T, C] -> [B, heads, T, head_dim]
    B, T, C = x.shape
    return x.view(B, T, heads, C // heads).permute(0, 2, 1, 3)


def _merge(x):  # [B, heads, T, head_dim] -> [B, T, C]
    B, h, T, d = x.shape
    return x.permute(0, 2, 1, 3).reshape(B, T, h * d)


# ---------------------------------------------------------------------------
# ViT

class ViTPatchEmbeddings(nn.Module):
    def __init__(self, config):
        super().__init__()
        self.projection = nn.Conv2d(3, config.hidden_size, config.patch_size, config.patch_size)

    def forward(self, pixel_values):  # [B, 3, S, S] -> [B, n, C]
        return self.projection(pixel_values).flatten(2).transpose(1, 2)


class ViTEmbeddings(nn.Module):
    def __init__(self, config):
        super().__init__()
        n = (config.image_size // config.patch_size) ** 2
        self.cls_token = nn.Parameter(torch.zeros(1, 1, config.hidden_size))
        self.patch_embeddings = ViTPatchEmbeddings(config)
        self.position_embeddings = nn.Parameter(torch.zeros(1, n + 1, config.hidden_size))
        self.dropout = nn.Dropout(0.0)

    def forward(self, pixel_values):
        x = self.patch_embeddings(pixel_values)
        x = torch.cat([self.cls_token.expand(x.shape[0], -1, -1), x], dim=1)
        return self.dropout(x + self.position_embeddings)


class ViTSelfAttention(nn.Module):
    def __init__(self, config):
        super().__init__()
        C = config.hidden_size
        self.config = config
        self.num_attention_heads = config.num_attention_heads
        self.attention_head_size = C // config.num_attention_heads
        self.scaling = self.attention_head_size ** -0.5
        self.query = nn.Linear(C, C, bias=config.qkv_bias)
        self.key = nn.Linear(C, C, bias=config.qkv_bias)
        self.value = nn.Linear(C, C, bias=config.qkv_bias)
        self.dropout = nn.Dropout(0.0)

    def forward(self, hidden_states, head_mask=None, output_attentions=False):
        key = _heads(self.key(hidden_states), self.num_attention_heads)
        value = _heads(self.value(hidden_states), self.num_attention_heads)
        query = _heads(self.query(hidden_states), self.num_attention_heads)
        scores = (query @ key.transpose(-1, -2)) * self.scaling
        if self.config._attn_implementation == "eager":  # eager_attention_forward
            probs = torch.softmax(scores, dim=-1)
            context = probs @ value
        else:  # sdpa: one fused call, which returns no probabilities
            probs, context = None, torch.softmax(scores, dim=-1) @ value
        context = _merge(context)
        return (context, probs) if output_attentions else (context,)


class ViTSelfOutput(nn.Module):
    def __init__(self, config):
        super().__init__()
        self.dense = nn.Linear(config.hidden_size, config.hidden_size)
        self.dropout = nn.Dropout(0.0)

    def forward(self, hidden_states, input_tensor):
        return self.dropout(self.dense(hidden_states))


class ViTAttention(nn.Module):
    def __init__(self, config):
        super().__init__()
        self.attention = ViTSelfAttention(config)
        self.output = ViTSelfOutput(config)

    def forward(self, hidden_states, head_mask=None, output_attentions=False):
        self_outputs = self.attention(hidden_states, head_mask, output_attentions)
        return (self.output(self_outputs[0], hidden_states),) + self_outputs[1:]


class ViTIntermediate(nn.Module):
    def __init__(self, config):
        super().__init__()
        self.dense = nn.Linear(config.hidden_size, config.intermediate_size)
        self.intermediate_act_fn = nn.GELU()  # ACT2FN["gelu"], a module

    def forward(self, hidden_states):
        return self.intermediate_act_fn(self.dense(hidden_states))


class ViTOutput(nn.Module):
    def __init__(self, config):
        super().__init__()
        self.dense = nn.Linear(config.intermediate_size, config.hidden_size)
        self.dropout = nn.Dropout(0.0)

    def forward(self, hidden_states, input_tensor):
        return self.dropout(self.dense(hidden_states)) + input_tensor  # the second residual is here


class ViTLayer(nn.Module):
    def __init__(self, config):
        super().__init__()
        self.attention = ViTAttention(config)
        self.intermediate = ViTIntermediate(config)
        self.output = ViTOutput(config)
        self.layernorm_before = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        self.layernorm_after = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)

    def forward(self, hidden_states, head_mask=None, output_attentions=False):
        attention_outputs = self.attention(self.layernorm_before(hidden_states), head_mask,
                                           output_attentions=output_attentions)
        hidden_states = attention_outputs[0] + hidden_states
        layer_output = self.intermediate(self.layernorm_after(hidden_states))
        layer_output = self.output(layer_output, hidden_states)
        return (layer_output,) + attention_outputs[1:]


class ViTEncoder(nn.Module):
    def __init__(self, config):
        super().__init__()
        self.layer = nn.ModuleList([ViTLayer(config) for _ in range(config.num_hidden_layers)])

    def forward(self, hidden_states, output_attentions=False):
        for layer in self.layer:
            hidden_states = layer(hidden_states, None, output_attentions)[0]
        return (hidden_states,)


class ViTPooler(nn.Module):
    def __init__(self, config):
        super().__init__()
        self.dense = nn.Linear(config.hidden_size, config.hidden_size)
        self.activation = nn.Tanh()

    def forward(self, hidden_states):
        return self.activation(self.dense(hidden_states[:, 0]))


class ViTModel(nn.Module):
    def __init__(self, config, add_pooling_layer=True):
        super().__init__()
        self.config = config
        self.embeddings = ViTEmbeddings(config)
        self.encoder = ViTEncoder(config)
        self.layernorm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        self.pooler = ViTPooler(config) if add_pooling_layer else None

    def forward(self, pixel_values, output_attentions=None):
        if output_attentions is None:
            output_attentions = self.config.output_attentions
        sequence_output = self.layernorm(self.encoder(self.embeddings(pixel_values), output_attentions)[0])
        pooled_output = self.pooler(sequence_output) if self.pooler is not None else None
        return sequence_output, pooled_output


class ViTForImageClassification(nn.Module):
    def __init__(self, config):
        super().__init__()
        self.config = config
        self.vit = ViTModel(config, add_pooling_layer=False)
        self.classifier = nn.Linear(config.hidden_size, config.num_labels)

    def forward(self, pixel_values, output_attentions=None):
        return self.classifier(self.vit(pixel_values, output_attentions)[0][:, 0, :])


def vit_config(cfg):
    """A Config from a port ViT config (checkpoints.HF_VIT)."""
    return Config(hidden_size=cfg["width"], num_attention_heads=cfg["heads"], num_hidden_layers=cfg["depth"],
                  intermediate_size=int(cfg["width"] * cfg["mlp_ratio"]), image_size=cfg["image_size"],
                  patch_size=cfg["patch"], layer_norm_eps=cfg["norm_eps"], qkv_bias=cfg.get("qkv_bias", True),
                  num_labels=cfg["classes"])


# ---------------------------------------------------------------------------
# Swin

def window_partition(x, M):  # [B, H, W, C] -> [B·nW, M, M, C]
    B, H, W, C = x.shape
    return x.view(B, H // M, M, W // M, M, C).permute(0, 1, 3, 2, 4, 5).reshape(-1, M, M, C)


def window_reverse(windows, M, H, W):  # [B·nW, M, M, C] -> [B, H, W, C]
    C = windows.shape[-1]
    return windows.view(-1, H // M, W // M, M, M, C).permute(0, 1, 3, 2, 4, 5).reshape(-1, H, W, C)


class SwinPatchEmbeddings(nn.Module):
    def __init__(self, config):
        super().__init__()
        self.projection = nn.Conv2d(3, config.embed_dim, config.patch_size, config.patch_size)

    def forward(self, pixel_values):  # -> [B, H·W, C], (H, W)
        x = self.projection(pixel_values)
        return x.flatten(2).transpose(1, 2), tuple(x.shape[-2:])


class SwinEmbeddings(nn.Module):
    def __init__(self, config):
        super().__init__()
        self.patch_embeddings = SwinPatchEmbeddings(config)
        self.norm = nn.LayerNorm(config.embed_dim, eps=config.layer_norm_eps)
        self.dropout = nn.Dropout(0.0)

    def forward(self, pixel_values):
        x, dims = self.patch_embeddings(pixel_values)
        return self.dropout(self.norm(x)), dims


class SwinSelfAttention(nn.Module):
    def __init__(self, config, dim, num_heads, window_size):
        super().__init__()
        M = window_size
        self.num_attention_heads = num_heads
        self.attention_head_size = dim // num_heads
        self.window_size = (M, M)
        self.relative_position_bias_table = nn.Parameter(torch.zeros((2 * M - 1) ** 2, num_heads))
        ys, xs = torch.meshgrid(torch.arange(M), torch.arange(M), indexing="ij")
        ys, xs = ys.flatten(), xs.flatten()
        index = (ys[:, None] - ys[None, :] + M - 1) * (2 * M - 1) + (xs[:, None] - xs[None, :] + M - 1)
        self.register_buffer("relative_position_index", index)  # [M², M²], stored in the checkpoint
        self.query = nn.Linear(dim, dim, bias=config.qkv_bias)
        self.key = nn.Linear(dim, dim, bias=config.qkv_bias)
        self.value = nn.Linear(dim, dim, bias=config.qkv_bias)
        self.dropout = nn.Dropout(0.0)

    def forward(self, hidden_states, attention_mask=None, head_mask=None, output_attentions=False):
        BW, T, _ = hidden_states.shape
        heads = self.num_attention_heads
        query = _heads(self.query(hidden_states), heads)
        key = _heads(self.key(hidden_states), heads)
        value = _heads(self.value(hidden_states), heads)
        scores = (query @ key.transpose(-1, -2)) / math.sqrt(self.attention_head_size)
        bias = self.relative_position_bias_table[self.relative_position_index.view(-1)].view(T, T, -1)
        scores = scores + bias.permute(2, 0, 1)[None]
        if attention_mask is not None:
            nW = attention_mask.shape[0]
            scores = (scores.view(BW // nW, nW, heads, T, T) + attention_mask[None, :, None]).view(-1, heads, T, T)
        probs = self.dropout(torch.softmax(scores, dim=-1))
        context = _merge(probs @ value)
        return (context, probs) if output_attentions else (context,)


class SwinSelfOutput(nn.Module):
    def __init__(self, config, dim):
        super().__init__()
        self.dense = nn.Linear(dim, dim)
        self.dropout = nn.Dropout(0.0)

    def forward(self, hidden_states, input_tensor):
        return self.dropout(self.dense(hidden_states))


class SwinAttention(nn.Module):
    def __init__(self, config, dim, num_heads, window_size):
        super().__init__()
        self.self = SwinSelfAttention(config, dim, num_heads, window_size)
        self.output = SwinSelfOutput(config, dim)

    def forward(self, hidden_states, attention_mask=None, head_mask=None, output_attentions=False):
        self_outputs = self.self(hidden_states, attention_mask, head_mask, output_attentions)
        return (self.output(self_outputs[0], hidden_states),) + self_outputs[1:]


class SwinIntermediate(nn.Module):
    def __init__(self, config, dim):
        super().__init__()
        self.dense = nn.Linear(dim, int(config.mlp_ratio * dim))
        self.intermediate_act_fn = nn.GELU()

    def forward(self, hidden_states):
        return self.intermediate_act_fn(self.dense(hidden_states))


class SwinOutput(nn.Module):
    def __init__(self, config, dim):
        super().__init__()
        self.dense = nn.Linear(int(config.mlp_ratio * dim), dim)
        self.dropout = nn.Dropout(0.0)

    def forward(self, hidden_states):
        return self.dropout(self.dense(hidden_states))


class SwinLayer(nn.Module):
    def __init__(self, config, dim, input_resolution, num_heads, shift_size=0):
        super().__init__()
        self.shift_size = shift_size
        self.window_size = config.window_size
        self.input_resolution = input_resolution
        self.layernorm_before = nn.LayerNorm(dim, eps=config.layer_norm_eps)
        self.attention = SwinAttention(config, dim, num_heads, window_size=self.window_size)
        self.drop_path = nn.Identity()  # SwinDropPath at drop_path_rate 0
        self.layernorm_after = nn.LayerNorm(dim, eps=config.layer_norm_eps)
        self.intermediate = SwinIntermediate(config, dim)
        self.output = SwinOutput(config, dim)

    def set_shift_and_window_size(self, input_resolution):
        if min(input_resolution) <= self.window_size:  # one window covers the grid: no shift
            self.shift_size = 0
            self.window_size = min(input_resolution)

    def get_attn_mask(self, height, width):  # [nW, M², M²]: 0 within a region of the shifted grid, -100 across
        if self.shift_size == 0:
            return None
        M, s = self.window_size, self.shift_size
        labels = torch.zeros(1, height, width, 1)
        cuts = (slice(0, -M), slice(-M, -s), slice(-s, None))
        for n, (hs, ws) in enumerate((hs, ws) for hs in cuts for ws in cuts):
            labels[:, hs, ws, :] = n
        windows = window_partition(labels, M).view(-1, M * M)
        mask = windows[:, None, :] - windows[:, :, None]
        return mask.masked_fill(mask != 0, -100.0).masked_fill(mask == 0, 0.0)

    def forward(self, hidden_states, input_dimensions, head_mask=None, output_attentions=False):
        self.set_shift_and_window_size(input_dimensions)
        height, width = input_dimensions
        B, _, C = hidden_states.shape
        M, s = self.window_size, self.shift_size
        shortcut = hidden_states
        x = self.layernorm_before(hidden_states).view(B, height, width, C)
        if s > 0:  # cyclic shift
            x = torch.roll(x, shifts=(-s, -s), dims=(1, 2))
        windows = window_partition(x, M).view(-1, M * M, C)
        attn_mask = self.get_attn_mask(height, width)
        attention_outputs = self.attention(windows, attn_mask, head_mask, output_attentions=output_attentions)
        x = window_reverse(attention_outputs[0].view(-1, M, M, C), M, height, width)
        if s > 0:  # reverse cyclic shift
            x = torch.roll(x, shifts=(s, s), dims=(1, 2))
        hidden_states = shortcut + self.drop_path(x.view(B, height * width, C))
        layer_output = hidden_states + self.output(self.intermediate(self.layernorm_after(hidden_states)))
        return (layer_output, attention_outputs[1]) if output_attentions else (layer_output,)


class SwinPatchMerging(nn.Module):
    def __init__(self, input_resolution, dim):
        super().__init__()
        self.input_resolution = input_resolution
        self.reduction = nn.Linear(4 * dim, 2 * dim, bias=False)
        self.norm = nn.LayerNorm(4 * dim)

    def forward(self, input_feature, input_dimensions):
        height, width = input_dimensions
        B, _, C = input_feature.shape
        x = input_feature.view(B, height, width, C)
        x = torch.cat([x[:, 0::2, 0::2], x[:, 1::2, 0::2], x[:, 0::2, 1::2], x[:, 1::2, 1::2]], -1).view(B, -1, 4 * C)
        return self.reduction(self.norm(x))


class SwinStage(nn.Module):
    def __init__(self, config, dim, input_resolution, depth, num_heads, downsample):
        super().__init__()
        self.blocks = nn.ModuleList([
            SwinLayer(config, dim, input_resolution, num_heads, shift_size=0 if i % 2 == 0 else config.window_size // 2)
            for i in range(depth)])
        self.downsample = SwinPatchMerging(input_resolution, dim) if downsample else None

    def forward(self, hidden_states, input_dimensions, head_mask=None, output_attentions=False):
        height, width = input_dimensions
        for block in self.blocks:
            hidden_states = block(hidden_states, input_dimensions, None, output_attentions)[0]
        before = hidden_states
        if self.downsample is not None:
            hidden_states = self.downsample(before, input_dimensions)
            height, width = (height + 1) // 2, (width + 1) // 2
        return hidden_states, before, (*input_dimensions, height, width)


class SwinEncoder(nn.Module):
    def __init__(self, config, grid_size):
        super().__init__()
        D = len(config.depths)
        self.layers = nn.ModuleList([
            SwinStage(config, config.embed_dim * 2 ** s, (grid_size[0] // 2 ** s, grid_size[1] // 2 ** s),
                      config.depths[s], config.num_heads[s], downsample=s < D - 1)
            for s in range(D)])

    def forward(self, hidden_states, input_dimensions, output_attentions=False):
        for stage in self.layers:
            hidden_states, _, dims = stage(hidden_states, input_dimensions, None, output_attentions)
            input_dimensions = dims[-2:]
        return (hidden_states,)


class SwinModel(nn.Module):
    def __init__(self, config, add_pooling_layer=True):
        super().__init__()
        self.config = config
        self.num_features = config.embed_dim * 2 ** (len(config.depths) - 1)
        self.embeddings = SwinEmbeddings(config)
        grid = config.image_size // config.patch_size
        self.encoder = SwinEncoder(config, (grid, grid))
        self.layernorm = nn.LayerNorm(self.num_features, eps=config.layer_norm_eps)
        self.pooler = nn.AdaptiveAvgPool1d(1) if add_pooling_layer else None

    def forward(self, pixel_values, output_attentions=None):
        if output_attentions is None:
            output_attentions = self.config.output_attentions
        x, dims = self.embeddings(pixel_values)
        sequence_output = self.layernorm(self.encoder(x, dims, output_attentions)[0])
        pooled_output = None
        if self.pooler is not None:
            pooled_output = torch.flatten(self.pooler(sequence_output.transpose(1, 2)), 1)
        return sequence_output, pooled_output


class SwinForImageClassification(nn.Module):
    def __init__(self, config):
        super().__init__()
        self.config = config
        self.swin = SwinModel(config)
        self.classifier = nn.Linear(self.swin.num_features, config.num_labels)

    def forward(self, pixel_values, output_attentions=None):
        return self.classifier(self.swin(pixel_values, output_attentions)[1])


def swin_config(cfg):
    """A Config from a port Swin config (checkpoints.HF_SWIN)."""
    return Config(embed_dim=cfg["embed_dim"], depths=cfg["depths"], num_heads=cfg["heads"], window_size=cfg["window"],
                  mlp_ratio=cfg["mlp_ratio"], image_size=cfg["image_size"], patch_size=cfg["patch"],
                  layer_norm_eps=1e-5, qkv_bias=True, num_labels=cfg["classes"])

// Checkpoint layouts as data: how a file of some library names and splits
// the tensors of a model that vitrace names as timm does.
//
// A layout is
//   - markers: name patterns that identify it (any one present is enough to try it);
//   - rules: for a model parameter (matched by pattern), its source in the file:
//       whole(name)                    the tensor as it is
//       rows(name, k, n)               part k of n equal parts along axis 0
//       concat({a, b, c})              a, b and c joined along axis 0 (query, key, value into qkv)
//       reshaped(name, rank)           the tensor's values under the model's shape: the same shape
//                                      but for leading 1s (vit-pytorch's pos_embedding [N, C] is
//                                      pos_embed [1, N, C]); `rank` is the model's rank
//     a parameter that no rule matches is read under its own name;
//   - buffers: stored tensors the model computes itself (Swin's
//     relative_position_index, attn_mask), checked against it and dropped;
//   - ignored: tensors read by nobody (listed as ignored, not unexpected).
//     An empty tensor (no values) that the model does not read is ignored too.
//
// Patterns: "{i}" (any name in braces) matches a number and captures it;
// "{*}" matches the rest of the name. In a source name, "{s-1}" is the number
// captured as s, less one, and "{s*2+1}" twice it plus one. Buffer names are
// made for every block of the model from its stage {s} and block {b}.
//
// Adding a layout: one table in io/layouts.cpp and its tests.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/family.h"

namespace vitrace {

struct Source {
    enum class Kind { Whole, Rows, Concat, Reshaped };
    Kind kind = Kind::Whole;
    std::vector<std::string> names;  // one (Whole, Rows) or several (Concat)
    int part = 0, parts = 1;         // Rows: part `part` of `parts`
    int rank = 0;                    // Reshaped: the model's rank
};
Source whole(std::string name);
Source rows(std::string name, int part, int parts);
Source concat(std::vector<std::string> names);
Source reshaped(std::string name, int rank);
// A reshaped source's shape as the model sees it: leading 1s dropped, then
// put back up to `rank` ([N, C] -> [1, N, C]; [1, 1, N, C] -> [1, N, C]).
Shape reshaped_shape(const Shape& shape, int rank);

struct LayoutRule {
    std::string param;  // the model's (timm's) name pattern
    Source source;      // names in the file, with the captures filled in
};

struct LayoutBuffer {
    std::string name;  // pattern that captures {s} and {b}
    BufferKind kind;
};

struct Layout {
    std::string name;           // "timm", "microsoft", ...: the trace's model.weights_layout
    std::string family;         // the Family::name it loads
    std::string identified_by;  // the markers in words, for messages: "tensors named layers.*"
    std::vector<std::string> markers;
    std::vector<LayoutRule> rules;
    std::vector<LayoutBuffer> buffers;
    std::vector<std::string> ignored;
};

// Where the layout finds a model parameter: its rule's source with the names
// filled in, or the parameter's own name when no rule matches.
Source source_of(const Layout& layout, const std::string& param);

// Every registered layout, in the order the loader tries them (io/layouts.cpp).
const std::vector<Layout>& layouts();

// Name patterns (see above).
using Captures = std::map<std::string, std::string>;
bool match_name(std::string_view pattern, std::string_view name, Captures& captures);
std::string fill_name(std::string_view pattern, const Captures& captures);

}  // namespace vitrace

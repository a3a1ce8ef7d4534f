#include "report/page.h"

#include "io/picture.h"

#include <cstring>
#include <map>
#include <string_view>

#include "core/error.h"
#include "report/assets.h"

namespace vitrace::report {

namespace {

// The embedded file at `path` ("src/core/vit.cpp") as lines, or null.
const std::vector<std::string_view>* source_lines(const std::string& path) {
    static std::map<std::string, std::vector<std::string_view>> cache;
    if (auto it = cache.find(path); it != cache.end()) return &it->second;
    for (size_t i = 0; i < kSourceCount; i++) {
        if (path != kSources[i].path) continue;
        std::vector<std::string_view>& lines = cache[path];
        std::string_view text = kSources[i].text;
        while (!text.empty()) {
            const size_t end = std::min(text.find('\n'), text.size());
            lines.push_back(text.substr(0, end));
            text.remove_prefix(std::min(end + 1, text.size()));
        }
        return &lines;
    }
    return nullptr;
}

// The path from the repository's root of a file the compiler named.
std::string repository_path(std::string_view file) {
    const size_t at = file.rfind("/src/");
    if (at != std::string_view::npos) return std::string(file.substr(at + 1));
    return std::string(file);
}

// A line that starts a definition at the outermost level of a file: not
// indented, not a comment, a preprocessor line, a closing brace or a namespace.
bool starts_definition(std::string_view line) {
    if (line.empty() || std::strchr(" \t}/#", line[0])) return false;
    return !line.starts_with("namespace") && !line.starts_with("template") && !line.starts_with("using");
}

// The function's name from its first line: the identifier before the first '('.
std::string function_name(std::string_view line) {
    const size_t paren = line.find('(');
    if (paren == std::string_view::npos) return std::string(line);
    size_t begin = paren;
    while (begin > 0 && (std::isalnum((unsigned char)line[begin - 1]) || line[begin - 1] == '_' || line[begin - 1] == ':'))
        begin--;
    return std::string(line.substr(begin, paren - begin));
}

// The folds a step belongs to, outermost first.
std::vector<std::string> group_of(const Step& s) {
    const StepAt& at = s.at;
    if (at.stage >= 0) {
        const std::string stage = "layers." + std::to_string(at.stage);
        return {stage, at.block >= 0 ? stage + ".blocks." + std::to_string(at.block) : stage + ".downsample"};
    }
    if (at.block >= 0) return {"blocks." + std::to_string(at.block)};
    if (at.role <= Role::InputNormalize) return {"input"};
    if (at.role <= Role::PosEmbed) return {"embedding"};
    return {"head"};
}

}  // namespace

nlohmann::ordered_json Sources::locate(const SourcePlace& where) {
    const std::string file = repository_path(where.file);
    const std::vector<std::string_view>* lines = source_lines(file);
    const int line = where.line;
    if (!lines || line < 1 || line > (int)lines->size()) return nullptr;
    // Up from the call to the definition's first line, down to its closing brace.
    int first = line - 1;
    while (first > 0 && !starts_definition((*lines)[first])) first--;
    int last = line - 1;
    while (last + 1 < (int)lines->size() && (*lines)[last] != "}") last++;
    const std::string name = function_name((*lines)[first]);
    // Its template line and the comment above it belong to it.
    if (first > 0 && (*lines)[first - 1].starts_with("template")) first--;
    while (first > 0 && (*lines)[first - 1].starts_with("//")) first--;

    for (size_t i = 0; i < functions_.size(); i++)
        if (functions_[i]["file"] == file && functions_[i]["first_line"] == first + 1)
            return {{"file", file}, {"line", line}, {"function", i}};
    std::string text;
    for (int i = first; i <= last; i++) text.append((*lines)[i]).append("\n");
    functions_.push_back({{"file", file}, {"function", name}, {"first_line", first + 1}, {"text", text}});
    return {{"file", file}, {"line", line}, {"function", functions_.size() - 1}};
}

nlohmann::ordered_json step_json(const Step& s, nlohmann::ordered_json values, Sources& sources,
                                 const std::string& family) {
    const int64_t k = std::min<int64_t>(kSummaryValues, (int64_t)s.values.size());
    return {{"index", s.index},
            {"name", s.name},
            {"op", s.op},
            {"shape", s.shape},
            {"dims", s.dims},
            {"macs", s.macs},
            {"time_ms", s.time_ms},
            {"stats",
             {{"min", s.stats.min}, {"max", s.stats.max}, {"mean", s.stats.mean}, {"std", s.stats.std},
              {"nonfinite", s.stats.nonfinite}}},
            {"group", group_of(s)},
            {"stage", s.at.stage},
            {"block", s.at.block},
            {"leaf", role_leaf(s.at.role)},
            {"summary", std::vector<float>(s.values.begin(), s.values.begin() + k)},
            {"values", std::move(values)},
            {"source", sources.locate(s.source)},
            {"timm", timm_line(family, s.at.role)}};
}

nlohmann::ordered_json cost_json(const ModelCost& c) {
    nlohmann::ordered_json layers = nlohmann::ordered_json::array();
    for (const LayerCost& l : c.layers)
        layers.push_back({{"name", l.name},
                          {"blocks", l.blocks},
                          {"tokens", l.tokens},
                          {"channels", l.channels},
                          {"heads", l.heads},
                          {"attention_matrices", l.matrices},
                          {"matrix_side", l.matrix_side},
                          {"score_bytes_per_block", l.score_bytes},
                          {"macs",
                           {{"projections", l.projection_macs},
                            {"attention", l.attention_macs},
                            {"mlp", l.mlp_macs},
                            {"other", l.other_macs},
                            {"total", l.total_macs()}}}});
    return {{"model", c.model},      {"image_size", c.image_size}, {"total_macs", c.total_macs},
            {"embed_macs", c.embed_macs}, {"head_macs", c.head_macs}, {"layers", layers}};
}

nlohmann::ordered_json cost_panel(const std::vector<ModelConfig>& models) {
    nlohmann::ordered_json costs = nlohmann::ordered_json::array(), growth = nlohmann::ordered_json::array();
    for (const ModelConfig& cfg : models) {
        nlohmann::ordered_json c = cost_json(model_cost(cfg));
        c["family"] = cfg.family->name;
        costs.push_back(std::move(c));
        // Every image side from 224 (or the model's own, if smaller) to 896 at which the model runs.
        nlohmann::ordered_json points = nlohmann::ordered_json::array();
        for (int S = std::min(224, cfg.image_size()); S <= 896; S++) {
            ModelConfig at = cfg;
            FlagValue size;
            size.ints = {S};
            try {
                apply_overrides(at, {{"--image-size", size}});
            } catch (const Error&) {
                continue;  // the patch, a window or a merge does not divide this side
            }
            const ModelCost mc = model_cost(at);
            int64_t kinds[4] = {0, 0, 0, 0};
            for (const LayerCost& l : mc.layers) {
                kinds[0] += l.projection_macs;
                kinds[1] += l.attention_macs;
                kinds[2] += l.mlp_macs;
                kinds[3] += l.other_macs;
            }
            points.push_back({{"image_size", S},
                              {"tokens", mc.layers.empty() ? 0 : mc.layers.front().tokens},
                              {"total", mc.total_macs},
                              {"projections", kinds[0]},
                              {"attention", kinds[1]},
                              {"mlp", kinds[2]},
                              {"other", kinds[3] + mc.embed_macs + mc.head_macs}});
        }
        growth.push_back({{"model", cfg.name}, {"family", cfg.family->name}, {"points", points}});
    }
    return {{"models", costs}, {"growth", growth}};
}

void write_page(std::FILE* f, const nlohmann::ordered_json& data) {
    nlohmann::ordered_json all = data;
    for (ColourMap map : {ColourMap::Sequential, ColourMap::Diverging}) {
        nlohmann::ordered_json stops = nlohmann::ordered_json::array();
        for (const ColourStop& s : colour_stops(map)) stops.push_back({s.t, s.colour[0], s.colour[1], s.colour[2]});
        all["colour_maps"][colour_map_name(map)] = stops;
    }
    // Inside <script>, "</" could close the element early; JSON reads "<\/" as "</".
    std::string json = all.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
    for (size_t at = json.find("</"); at != std::string::npos; at = json.find("</", at + 3)) json.insert(at + 1, 1, '\\');
    const std::string_view html = kPageHtml;
    const std::pair<std::string_view, std::string_view> parts[] = {
        {"/*@VITRACE_CSS@*/", kPageCss}, {"@VITRACE_DATA@", json}, {"/*@VITRACE_JS@*/", kPageJs}};
    size_t from = 0;
    for (const auto& [mark, text] : parts) {
        const size_t at = html.find(mark, from);
        if (at == std::string_view::npos) throw Error(ErrorKind::Internal, "report template: no " + std::string(mark));
        std::fwrite(html.data() + from, 1, at - from, f);
        std::fwrite(text.data(), 1, text.size(), f);
        from = at + mark.size();
    }
    std::fwrite(html.data() + from, 1, html.size() - from, f);
}

}  // namespace vitrace::report

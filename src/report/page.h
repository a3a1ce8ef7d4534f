// The HTML report: one self-contained page of a run (docs/report.md).
//
//   step_json     a step as the page shows it: the trace's fields, its values,
//                 the vitrace function that recorded it and the timm line
//   cost_json     what a model costs, layer by layer (also `compare --json`)
//   cost_panel    the cost of some models at their size and from 224 to 896 px
//   write_page    the template with its style, script and data put in
#pragma once

#include <cstdio>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/cost.h"
#include "core/model.h"
#include "core/trace.h"

namespace vitrace::report {

inline constexpr const char* kReportFormat = "vitrace.report/1";

// The C++ functions that recorded the steps, each kept once: the page's "sources".
class Sources {
public:
    // {file, line, function} for the trace.record call at `where`, or null
    // when its file is not among the embedded sources.
    nlohmann::ordered_json locate(const SourcePlace& where);
    const nlohmann::ordered_json& json() const { return functions_; }

private:
    nlohmann::ordered_json functions_ = nlohmann::ordered_json::array();
};

// {where, file, code}: the timm method and line that the step corresponds to, or null.
nlohmann::ordered_json timm_line(const std::string& family, Role role);

nlohmann::ordered_json step_json(const Step& s, nlohmann::ordered_json values, Sources& sources,
                                 const std::string& family);

nlohmann::ordered_json cost_json(const ModelCost& c);
// {models: [cost_json at each model's size], growth: [{model, family, points}]}
nlohmann::ordered_json cost_panel(const std::vector<ModelConfig>& models);

// The page: the template with the style, the script and `data` put in.
void write_page(std::FILE* f, const nlohmann::ordered_json& data);

}  // namespace vitrace::report

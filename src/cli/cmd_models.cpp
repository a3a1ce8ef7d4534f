// vitrace models: the built-in configurations, as a table or as JSON.
#include <CLI/CLI.hpp>

#include "cli/commands.h"
#include "cli/table.h"
#include "io/trace_json.h"

namespace vitrace::cli {

namespace {

// A config field, found by the flag that sets it, as the table shows it; "-"
// for a family without that field.
std::string field_text(const ModelConfig& m, const std::string& flag) {
    const ConfigField* f = m.family->field_by_flag(flag);
    if (!f || !f->get) return "-";
    const std::string text = config_text(f->get(m.params));
    return text.empty() ? "-" : text;
}

}  // namespace

CLI::App* setup_models(CLI::App& app, ModelsCommand& o) {
    CLI::App* cmd = app.add_subcommand("models", "List the built-in models");
    cmd->add_flag("--json", o.json, "Print them as JSON: name, family, parameters, description, config");
    return cmd;
}

int run_models(const ModelsCommand& o) {
    if (o.json) {
        nlohmann::ordered_json list = nlohmann::ordered_json::array();
        for (const ModelConfig& m : builtin_models())
            list.push_back({{"name", m.name},
                            {"family", m.family->name},
                            {"parameters", param_count(m)},
                            {"description", m.summary},
                            {"config", config_json(config_record(m))}});
        std::printf("%s\n", list.dump(2).c_str());
        return 0;
    }
    Table t{{"model", "family", "params", "image", "patch", "width", "depth", "heads", "window", "description"},
            {false, false, true, true, true, true, false, false, true, false}, {}};
    for (const ModelConfig& m : builtin_models()) {
        std::vector<std::string> row = {m.name, m.family->name, human_count((double)param_count(m)),
                                        std::to_string(m.image_size()), std::to_string(m.patch())};
        for (const char* flag : {"--width", "--depth", "--heads", "--window"}) row.push_back(field_text(m, flag));
        row.push_back(m.summary);
        t.rows.push_back(std::move(row));
    }
    t.print(stdout);
    return 0;
}

}  // namespace vitrace::cli

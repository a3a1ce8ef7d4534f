// Configuration fields, each declared once: the command-line flag that sets it,
// its JSON name, how a value is checked and stored, and how it reads back.
// A family lists its fields in its descriptor (core/family.h); the command
// line, the trace's model.config and `vitrace models` all read that list.
//
//   field                  flag             JSON         kind
//   VitConfig::image_size  --image-size     image_size   one whole number
//   SwinConfig::depths     --depth,--depths depths       a list, 2,2,6,2
//
// The defaults are the config struct's own member initialisers.
#pragma once

#include <any>
#include <cstdio>
#include <functional>
#include <initializer_list>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

#include "core/error.h"

namespace vitrace {

// A config read back for writers (JSON, tables): a value is a flag, a number,
// a word, a list of numbers, or a list of records (Swin's stages).
struct ConfigValue;
using ConfigRecord = std::vector<std::pair<std::string, ConfigValue>>;
struct ConfigValue {
    std::variant<bool, int64_t, double, std::string, std::vector<int>, std::vector<ConfigRecord>> value;
};

// A value as a table shows it: 384, 4, 1e-06, true, mean, 2,2,6,2; "" for records.
std::string config_text(const ConfigValue& v);

// How the command line reads a flag.
enum class FlagKind {
    Int,     // --patch 16
    Ints,    // --depth 2,2,6,2 (one number or a comma-separated list)
    Number,  // --mlp-ratio 4.0
    Word,    // --pool mean
    Switch,  // --layer-scale (present or not)
};

// What the command line gave for one flag.
struct FlagValue {
    std::vector<int> ints;  // Int: one number; Ints: all of them
    double number = 0;
    std::string word;

    FlagValue() = default;
    FlagValue(std::initializer_list<int> values) : ints(values) {}  // FlagValue{2, 2, 6, 2}
    static FlagValue of_number(double x) {
        FlagValue v;
        v.number = x;
        return v;
    }
    static FlagValue of_word(std::string w) {
        FlagValue v;
        v.word = std::move(w);
        return v;
    }
};

struct ConfigField {
    std::string json;  // the name in model.config; "" for a field the JSON leaves out
    std::string flag;  // CLI11's spelling, aliases after commas: "--width,--embed-dim"; "" for none
    std::string help;
    FlagKind kind = FlagKind::Int;
    // Checks the value and stores it in the family's config. Throws Error(Config).
    std::function<void(std::any& cfg, const FlagValue& value)> set;
    // The value as it stands in cfg; empty for a field that is only a flag.
    std::function<ConfigValue(const std::any& cfg)> get;
};

// The config struct of a family from a type-erased config; a wrong type is a bug.
template <class C>
const C& config_as(const std::any& cfg) {
    const C* c = std::any_cast<C>(&cfg);
    require(c != nullptr, ErrorKind::Internal, "config of another family");
    return *c;
}
template <class C>
C& config_as(std::any& cfg) {
    C* c = std::any_cast<C>(&cfg);
    require(c != nullptr, ErrorKind::Internal, "config of another family");
    return *c;
}

// Field makers for the common cases. `label` is how messages name the field
// ("image size"); values below `min` are refused, as are values above `max`.
template <class C>
ConfigField int_field(int C::*member, std::string json, std::string flag, std::string help, std::string label,
                      int min, int max) {
    return {std::move(json), std::move(flag), std::move(help), FlagKind::Int,
            [=](std::any& cfg, const FlagValue& v) {
                const int x = v.ints.at(0);
                require(x >= min, ErrorKind::Config,
                        label + (min == 1 ? " must be positive" : " must be at least " + std::to_string(min)) +
                            ", got " + std::to_string(x));
                require(x <= max, ErrorKind::Config,
                        label + " is beyond vitrace's limit of " + std::to_string(max) + ", got " + std::to_string(x));
                config_as<C>(cfg).*member = x;
            },
            [=](const std::any& cfg) { return ConfigValue{int64_t{config_as<C>(cfg).*member}}; }};
}

template <class C>
ConfigField number_field(double C::*member, std::string json, std::string flag, std::string help, std::string label,
                         double min_exclusive, double max) {
    return {std::move(json), std::move(flag), std::move(help), FlagKind::Number,
            [=](std::any& cfg, const FlagValue& v) {
                auto str = [](double x) {
                    char buf[32];
                    std::snprintf(buf, sizeof buf, "%g", x);
                    return std::string(buf);
                };
                require(v.number > min_exclusive && v.number <= max, ErrorKind::Config,
                        label + " must be in (" + str(min_exclusive) + ", " + str(max) + "], got " + str(v.number));
                config_as<C>(cfg).*member = v.number;
            },
            [=](const std::any& cfg) { return ConfigValue{config_as<C>(cfg).*member}; }};
}

// A yes/no field: `--qkv-bias false` (a word), or a switch such as
// `--layer-scale` that turns it on.
template <class C>
ConfigField bool_field(bool C::*member, std::string json, std::string flag, std::string help, FlagKind kind) {
    return {std::move(json), flag, std::move(help), kind,
            [=](std::any& cfg, const FlagValue& v) {
                bool on = true;
                if (kind == FlagKind::Word) {
                    require(v.word == "true" || v.word == "false", ErrorKind::Usage,
                            flag.substr(0, flag.find(',')) + ": expected true or false, got '" + v.word + "'");
                    on = v.word == "true";
                }
                config_as<C>(cfg).*member = on;
            },
            [=](const std::any& cfg) { return ConfigValue{config_as<C>(cfg).*member}; }};
}

// A field that the JSON shows but no flag sets (LayerNorm's eps).
template <class C, class T>
ConfigField fixed_field(T C::*member, std::string json) {
    return {std::move(json), "", "", FlagKind::Int, nullptr, [=](const std::any& cfg) {
                if constexpr (std::is_integral_v<T>)
                    return ConfigValue{static_cast<int64_t>(config_as<C>(cfg).*member)};
                else
                    return ConfigValue{static_cast<double>(config_as<C>(cfg).*member)};
            }};
}

// A flag that other families take and this one refuses, with the reason.
inline ConfigField refused_flag(std::string flag, FlagKind kind, std::string why) {
    return {"", std::move(flag), "", kind,
            [why](std::any&, const FlagValue&) { throw Error(ErrorKind::Config, why); }, nullptr};
}

}  // namespace vitrace

#include "io/tensor_dump.h"

#include <cmath>
#include <fstream>
#include <cerrno>
#include <cstring>

namespace vitrace {

TensorDumpWriter::TensorDumpWriter(const std::string& path) : out_(path) {
    scratch_ = std::tmpfile();
    if (!scratch_) throw Error(ErrorKind::Output, "output '" + path + "': cannot make a scratch file for the values");
}

TensorDumpWriter::~TensorDumpWriter() {
    if (scratch_) std::fclose(scratch_);
}

void TensorDumpWriter::add(const Step& s, const Tensor& t) {
    const uint64_t begin = entries_.empty() ? 0 : entries_.back().end;
    const size_t n = static_cast<size_t>(t.numel());
    if (std::fwrite(t.ptr(), sizeof(float), n, scratch_) != n)
        throw Error(ErrorKind::Output, "output '" + out_.path() + "': cannot write the values of " + s.name +
                                           " to the scratch file (is the temporary directory full?)");
    entries_.push_back({s.name, DType::F32, t.shape, begin, begin + n * sizeof(float)});
    steps_.push_back({{"name", s.name}, {"op", s.op}, {"dims", s.dims}});
}

void TensorDumpWriter::finish(const nlohmann::ordered_json& model, const nlohmann::ordered_json& input,
                              const std::string& producer) {
    const std::map<std::string, std::string> metadata = {
        {"format", kTensorsFormat}, {"trace_format", "vitrace.trace/1"}, {"model", model.dump()},
        {"input", input.dump()},    {"steps", steps_.dump()},             {"producer", producer}};
    const std::string header = safetensors_header(entries_, metadata);
    std::FILE* f = out_.file();
    std::fwrite(header.data(), 1, header.size(), f);
    // The values, copied from the scratch file in large pieces.
    std::rewind(scratch_);
    std::vector<char> buf(size_t{4} << 20);
    for (size_t got; (got = std::fread(buf.data(), 1, buf.size(), scratch_)) > 0;) std::fwrite(buf.data(), 1, got, f);
    if (std::ferror(scratch_))
        throw Error(ErrorKind::Output, "output '" + out_.path() + "': cannot read back the scratch file");
    out_.commit();
}

namespace {

[[noreturn]] void bad(const std::string& path, const std::string& why) {
    throw Error(ErrorKind::Input, "trace '" + path + "': " + why);
}

}  // namespace

TraceFile TraceFile::open(const std::string& path) {
    TraceFile tf;
    tf.path_ = path;
    std::ifstream in(path, std::ios::binary);
    if (!in) bad(path, std::string("cannot open it (") + std::strerror(errno) + ")");
    char first = 0;
    in.get(first);
    while (in && std::isspace((unsigned char)first)) in.get(first);
    if (!in) bad(path, "the file is empty");

    if (first == '{') {  // a JSON trace
        in.seekg(0);
        nlohmann::json j;
        try {
            j = nlohmann::json::parse(in);
        } catch (const nlohmann::json::exception& e) {
            bad(path, std::string("not a valid JSON trace (") + e.what() + ")");
        }
        if (!j.is_object() || !j.contains("steps") || !j["steps"].is_array())
            bad(path, "a JSON file without \"steps\": not a vitrace trace");
        if (j.contains("format") && (!j["format"].is_string() || j["format"] != "vitrace.trace/1"))
            bad(path, "format " + j["format"].dump() + ", expected \"vitrace.trace/1\"");
        tf.model_ = j.value("model", nlohmann::json::object());
        try {
            for (const nlohmann::json& s : j["steps"]) {
                StepInfo info{s.at("name").get<std::string>(), s.value("op", ""), s.at("shape").get<Shape>(),
                              s.value("dims", std::vector<std::string>()), false};
                std::vector<float> v;
                if (s.contains("values") && s["values"].is_array() && (int64_t)s["values"].size() == numel(info.shape)) {
                    v.reserve(s["values"].size());
                    for (const nlohmann::json& x : s["values"]) v.push_back(x.is_null() ? NAN : x.get<float>());
                    info.has_values = true;
                }
                tf.steps_.push_back(std::move(info));
                tf.json_values_.push_back(std::move(v));
            }
        } catch (const nlohmann::json::exception& e) {
            bad(path, std::string("a step is malformed (") + e.what() + ")");
        }
        return tf;
    }

    try {
        tf.dump_ = std::make_shared<SafetensorsFile>(SafetensorsFile::open(path));
    } catch (const Error& e) {
        bad(path, std::string("neither a JSON trace nor a readable tensor dump: ") + e.what());
    }
    const auto& meta = tf.dump_->metadata();
    const auto format = meta.find("format");
    if (format == meta.end() || format->second != kTensorsFormat)
        bad(path, "a safetensors file without vitrace's metadata (__metadata__.format \"vitrace.tensors/1\"): "
                  "write dumps with `vitrace trace --tensors` or src/python/vitrace_hooks.py");
    try {
        if (meta.count("model")) tf.model_ = nlohmann::json::parse(meta.at("model"));
        const nlohmann::json steps = nlohmann::json::parse(meta.count("steps") ? meta.at("steps") : "null");
        if (!steps.is_array()) bad(path, "__metadata__.steps is missing or not a list");
        if (meta.count("unseen"))
            for (const nlohmann::json& u : nlohmann::json::parse(meta.at("unseen")))
                tf.unseen_.push_back({u.at("name").get<std::string>(), u.value("why", "")});
        for (const nlohmann::json& s : steps) {
            const std::string name = s.at("name").get<std::string>();
            const TensorEntry* e = tf.dump_->find(name);
            if (!e) bad(path, "__metadata__.steps names " + name + ", which the file holds no tensor of");
            tf.steps_.push_back({name, s.value("op", ""), e->shape, s.value("dims", std::vector<std::string>()), true});
        }
    } catch (const nlohmann::json::exception& e) {
        bad(path, std::string("__metadata__ is malformed (") + e.what() + ")");
    }
    return tf;
}

const TraceFile::StepInfo* TraceFile::find(const std::string& name) const {
    for (const StepInfo& s : steps_)
        if (s.name == name) return &s;
    return nullptr;
}

std::string TraceFile::unseen_reason(const std::string& name) const {
    for (const auto& [glob, why] : unseen_)
        if (glob_match(glob, name)) return why.empty() ? "not seen" : why;
    return "";
}

std::vector<float> TraceFile::values(size_t i) const {
    if (!dump_) return json_values_.at(i);
    const TensorEntry* e = dump_->find(steps_.at(i).name);
    std::vector<float> out(static_cast<size_t>(numel(e->shape)));
    try {
        dump_->read_floats(*e, out.data());
    } catch (const Error& err) {
        bad(path_, err.what());
    }
    return out;
}

}  // namespace vitrace

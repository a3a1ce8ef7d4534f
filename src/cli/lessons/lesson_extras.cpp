#include "cli/lessons/lesson_extras.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <sstream>

#include "cli/print_tensor.h"
#include "cli/table.h"

namespace vitrace::cli {

namespace {

// Runs print(FILE*) into memory and hands each line to the lesson.
template <class Print>
void through_lines(Lesson& l, const std::string& indent, Print&& print) {
    char* text = nullptr;
    size_t size = 0;
    std::FILE* mem = open_memstream(&text, &size);
    if (!mem) throw Error(ErrorKind::Internal, "lesson: cannot open a memory stream");
    print(mem);
    std::fclose(mem);
    std::istringstream lines(std::string(text, size));
    std::free(text);
    for (std::string line; std::getline(lines, line);) l.line(indent + line);
    l.line();
}

}  // namespace

std::string trace_command(const std::string& steps, const std::string& model_flags, const std::string& image) {
    return "vitrace trace " + model_flags + " --image " + image + " --show " + steps;
}

void show_tensor(Lesson& l, const std::string& name, const std::string& op, const Tensor& t,
                 const std::vector<std::string>& dims, int columns) {
    Step s;
    s.name = name;
    s.op = op;
    s.shape = t.shape;
    s.dims = dims;
    s.computed = true;
    s.stats = compute_stats(t.ptr(), t.numel());
    s.values_mode = ValuesMode::Full;
    s.values.assign(t.data.begin(), t.data.end());
    through_lines(l, "", [&](std::FILE* f) { print_step_values(f, s, columns); });
}

void show_table(Lesson& l, const Table& t) {
    through_lines(l, "  ", [&](std::FILE* f) { t.print(f); });
}

std::string labelled(const std::string& label, const std::string& value, size_t width) {
    return "  " + label + std::string(label.size() < width ? width - label.size() : 1, ' ') + value;
}

Table attention_focus_table() {
    return {{"model", "step", "head", "keys", "uniform", "largest weight", "entropy / ln keys"},
            {false, false, true, true, true, true, true}};
}

std::vector<double> add_attention_focus(Table& t, const std::string& model, const Step& s) {
    const size_t rank = s.shape.size();
    const int64_t n = s.shape[rank - 1], heads = s.shape[rank - 3];
    const int64_t windows = rank == 4 ? s.shape[0] : 1;
    std::vector<double> largest_by_head;
    for (int64_t h = 0; h < heads; h++) {
        double largest = 0, entropy = 0;
        for (int64_t w = 0; w < windows; w++)
            for (int64_t r = 0; r < n; r++) {
                const float* row = &s.values[(((w * heads + h) * n) + r) * n];
                largest += *std::max_element(row, row + n);
                for (int64_t j = 0; j < n; j++)
                    if (row[j] > 0) entropy -= row[j] * std::log((double)row[j]);
            }
        const double rows = (double)(windows * n);
        t.rows.push_back({h ? "" : model, h ? "" : s.name, std::to_string(h), std::to_string(n), fixed(1.0 / (double)n),
                          fixed(largest / rows), fixed(entropy / rows / std::log((double)n))});
        largest_by_head.push_back(largest / rows);
    }
    return largest_by_head;
}

double max_abs_diff(const float* a, const float* b, int64_t n) {
    double d = 0;
    for (int64_t i = 0; i < n; i++) d = std::max(d, (double)std::fabs(a[i] - b[i]));
    return d;
}

std::string values_str(const float* v, int64_t n, int decimals) {
    std::string out = "[";
    for (int64_t i = 0; i < n; i++) out += (i ? ", " : "") + fixed(v[i], decimals);
    return out + "]";
}

}  // namespace vitrace::cli

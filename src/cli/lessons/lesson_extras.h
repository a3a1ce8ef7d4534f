// What lessons 2-8 need beyond the Lesson framework: the command that shows
// steps of the small ViT, and printing what a lesson computed itself (not a
// step of the run): a tensor the way `vitrace trace --show` prints a step, a
// table the way the other commands print theirs. Printing goes through
// Lesson::line, so that --json stays quiet.
#pragma once

#include <string>
#include <vector>

#include "cli/lesson.h"
#include "cli/table.h"

namespace vitrace::cli {

// "vitrace trace <flags> --image <image> --show <steps>": the command that prints these steps.
std::string trace_command(const std::string& steps, const std::string& model_flags = kSmallVit,
                          const std::string& image = kLessonImage);

// Prints "name  op  [dims]  min .. std" and the values as matrices, then a blank line.
void show_tensor(Lesson& l, const std::string& name, const std::string& op, const Tensor& t,
                 const std::vector<std::string>& dims, int columns = 8);

// Prints a table, each line indented by two spaces, then a blank line.
void show_table(Lesson& l, const Table& t);

// "  label     value": the label padded to `width`, for lines of labelled results that align.
std::string labelled(const std::string& label, const std::string& value, size_t width = 22);

// How peaked a softmax step's rows are, per head: the table's header, and one
// row per head of `softmax` ([heads, N_q, N_k], or Swin's [windows, heads,
// T_q, T_k] with the windows pooled): the keys a row spreads over, the
// uniform weight 1/keys, the largest weight of a row averaged over the rows,
// and a row's entropy over ln keys (1: even, 0: all on one key). Returns each
// head's mean largest weight.
Table attention_focus_table();
std::vector<double> add_attention_focus(Table& t, const std::string& model, const Step& softmax);

// max |a[i] - b[i]| over n values: how far a computed result is from a step.
double max_abs_diff(const float* a, const float* b, int64_t n);

// "[0.1234, -0.5678, ...]": n values, each fixed(v, decimals).
std::string values_str(const float* v, int64_t n, int decimals = 4);

}  // namespace vitrace::cli

// Names that were nearly right: "did you mean ...?" for models, subcommands,
// flags and steps.
#pragma once

#include <string>
#include <vector>

namespace vitrace {

// The fewest single-character insertions, deletions, substitutions and swaps
// of two neighbours that turn a into b.
size_t edit_distance(const std::string& a, const std::string& b);

// Up to `count` of `candidates`, nearest to `word` first (ties keep their order).
std::vector<std::string> closest_names(const std::string& word, const std::vector<std::string>& candidates, size_t count);

// "did you mean X?" when one candidate is close enough to be a typo of `word`
// (at most a third of its letters wrong, at least one) or one that holds all
// its letters in order ("img": "image"); "" otherwise.
std::string did_you_mean(const std::string& word, const std::vector<std::string>& candidates);

}  // namespace vitrace

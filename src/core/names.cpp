#include "core/names.h"

#include <algorithm>

namespace vitrace {

size_t edit_distance(const std::string& a, const std::string& b) {
    // d[i][j]: the distance between a[:i] and b[:j], three rows kept
    std::vector<size_t> before(b.size() + 1), prev(b.size() + 1), row(b.size() + 1);
    for (size_t j = 0; j <= b.size(); j++) prev[j] = j;
    for (size_t i = 1; i <= a.size(); i++) {
        row[0] = i;
        for (size_t j = 1; j <= b.size(); j++) {
            row[j] = std::min({prev[j] + 1, row[j - 1] + 1, prev[j - 1] + (a[i - 1] != b[j - 1])});
            if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1])  // two letters swapped
                row[j] = std::min(row[j], before[j - 2] + 1);
        }
        std::swap(before, prev);
        std::swap(prev, row);
    }
    return prev[b.size()];
}

std::vector<std::string> closest_names(const std::string& word, const std::vector<std::string>& candidates, size_t count) {
    std::vector<std::pair<size_t, std::string>> scored;
    for (const std::string& c : candidates) scored.push_back({edit_distance(word, c), c});
    std::stable_sort(scored.begin(), scored.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
    std::vector<std::string> out;
    for (size_t i = 0; i < scored.size() && out.size() < count; i++) out.push_back(scored[i].second);
    return out;
}

std::string did_you_mean(const std::string& word, const std::vector<std::string>& candidates) {
    // Leading dashes are not letters: "--img" is three letters, "img".
    auto letters = [](const std::string& w) { return w.substr(std::min(w.find_first_not_of('-'), w.size())); };
    const std::string w = letters(word);
    // A word whose letters all appear, in order, in a candidate ("img" in
    // "image") is that candidate shortened: the nearest such.
    auto within = [](const std::string& short_word, const std::string& long_word) {
        size_t at = 0;
        for (char c : long_word)
            if (at < short_word.size() && c == short_word[at]) at++;
        return at == short_word.size();
    };
    std::vector<std::string> shortened;
    for (const std::string& c : candidates)
        if (w.size() >= 3 && within(w, letters(c))) shortened.push_back(c);
    if (!shortened.empty()) return "did you mean " + closest_names(word, shortened, 1)[0] + "?";
    const std::vector<std::string> best = closest_names(word, candidates, 1);
    if (best.empty() || edit_distance(w, letters(best[0])) > std::max<size_t>(1, w.size() / 3)) return "";
    return "did you mean " + best[0] + "?";
}

}  // namespace vitrace

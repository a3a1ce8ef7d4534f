// "Did you mean": the distance between names, worked out by hand, and which
// typos get a suggestion.
#include <boost/test/unit_test.hpp>

#include "core/names.h"

using namespace vitrace;

BOOST_AUTO_TEST_SUITE(names)

BOOST_AUTO_TEST_CASE(edit_distance_by_hand) {
    BOOST_TEST(edit_distance("", "") == 0u);
    BOOST_TEST(edit_distance("abc", "") == 3u);
    BOOST_TEST(edit_distance("kitten", "sitting") == 3u);  // k->s, e->i, +g
    BOOST_TEST(edit_distance("trce", "trace") == 1u);      // +a
    BOOST_TEST(edit_distance("modle", "model") == 1u);     // l and e swapped
    BOOST_TEST(edit_distance("ab", "ba") == 1u);
}

BOOST_AUTO_TEST_CASE(typos_get_the_nearest_name) {
    const std::vector<std::string> flags = {"--model", "--image", "--image-size", "--steps", "--show", "--pool"};
    BOOST_TEST(did_you_mean("--img", flags) == "did you mean --image?");   // its letters, in order
    BOOST_TEST(did_you_mean("--modle", flags) == "did you mean --model?");
    BOOST_TEST(did_you_mean("--stps", flags) == "did you mean --steps?");
    BOOST_TEST(did_you_mean("--tol", flags) == "");                          // two of three letters wrong: no guess
    const std::vector<std::string> models = {"vit_tiny_patch16_224", "vit_base_patch16_224", "swin_shapes"};
    BOOST_TEST(did_you_mean("vit_bse_patch16_224", models) == "did you mean vit_base_patch16_224?");
    BOOST_TEST(did_you_mean("vit_huge", models) == "");
    BOOST_TEST(closest_names("blocks.0.attn.softmx", {"blocks.0.norm1", "blocks.0.attn.softmax", "blocks.1.attn.softmax"}, 2) ==
               std::vector<std::string>({"blocks.0.attn.softmax", "blocks.1.attn.softmax"}), boost::test_tools::per_element());
}

BOOST_AUTO_TEST_SUITE_END()

// Lesson 21: Tokens beyond the patches (lessons/21-extra-tokens.md). BEING WRITTEN.
#include "cli/lesson.h"
#include "cli/lessons/lesson_extras.h"

namespace vitrace::cli {

void lesson_21(Lesson& l) {
    l.say("Tokens beyond the patches: being written.");
}

}  // namespace vitrace::cli

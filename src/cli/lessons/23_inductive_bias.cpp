// Lesson 23: Windows and inductive bias (lessons/23-inductive-bias.md). BEING WRITTEN.
#include "cli/lesson.h"
#include "cli/lessons/lesson_extras.h"

namespace vitrace::cli {

void lesson_23(Lesson& l) {
    l.say("Windows and inductive bias: being written.");
}

}  // namespace vitrace::cli

// Lesson 22: Checking an implementation against vitrace (lessons/22-checking.md). BEING WRITTEN.
#include "cli/lesson.h"
#include "cli/lessons/lesson_extras.h"

namespace vitrace::cli {

void lesson_22(Lesson& l) {
    l.say("Checking an implementation against vitrace: being written.");
}

}  // namespace vitrace::cli

// Lesson 19: A new resolution (lessons/19-resolution.md). BEING WRITTEN.
#include "cli/lesson.h"
#include "cli/lessons/lesson_extras.h"

namespace vitrace::cli {

void lesson_19(Lesson& l) {
    l.say("A new resolution: being written.");
}

}  // namespace vitrace::cli

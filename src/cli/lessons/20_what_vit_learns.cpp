// Lesson 20: What a ViT learns (lessons/20-what-vit-learns.md). BEING WRITTEN.
#include "cli/lesson.h"
#include "cli/lessons/lesson_extras.h"

namespace vitrace::cli {

void lesson_20(Lesson& l) {
    l.say("What a ViT learns: being written.");
}

}  // namespace vitrace::cli

#include "cli/lesson.h"
namespace vitrace::cli {
void lesson_17(Lesson& l) { l.run(kSmallVit); }
}  // namespace vitrace::cli

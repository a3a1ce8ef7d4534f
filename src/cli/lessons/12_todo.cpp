#include "cli/lesson.h"
namespace vitrace::cli {
void lesson_12(Lesson& l) { l.run(kSmallVit); }
}  // namespace vitrace::cli

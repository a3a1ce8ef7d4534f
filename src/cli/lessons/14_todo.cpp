#include "cli/lesson.h"
namespace vitrace::cli {
void lesson_14(Lesson& l) { l.run(kSmallVit); }
}  // namespace vitrace::cli

#include "cli/lesson.h"
namespace vitrace::cli {
void lesson_02(Lesson& l) { l.run(kSmallVit); }
}  // namespace vitrace::cli

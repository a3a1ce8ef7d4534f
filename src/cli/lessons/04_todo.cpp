#include "cli/lesson.h"
namespace vitrace::cli {
void lesson_04(Lesson& l) { l.run(kSmallVit); }
}  // namespace vitrace::cli

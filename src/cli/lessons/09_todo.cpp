#include "cli/lesson.h"
namespace vitrace::cli {
void lesson_09(Lesson& l) { l.run(kSmallVit); }
}  // namespace vitrace::cli

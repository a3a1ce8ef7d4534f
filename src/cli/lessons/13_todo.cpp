#include "cli/lesson.h"
namespace vitrace::cli {
void lesson_13(Lesson& l) { l.run(kSmallVit); }
}  // namespace vitrace::cli

#include "cli/lesson.h"
namespace vitrace::cli {
void lesson_10(Lesson& l) { l.run(kSmallVit); }
}  // namespace vitrace::cli

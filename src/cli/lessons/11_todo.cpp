#include "cli/lesson.h"
namespace vitrace::cli {
void lesson_11(Lesson& l) { l.run(kSmallVit); }
}  // namespace vitrace::cli

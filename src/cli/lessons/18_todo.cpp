#include "cli/lesson.h"
namespace vitrace::cli {
void lesson_18(Lesson& l) { l.run(kSmallVit); }
}  // namespace vitrace::cli

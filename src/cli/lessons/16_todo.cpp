#include "cli/lesson.h"
namespace vitrace::cli {
void lesson_16(Lesson& l) { l.run(kSmallVit); }
}  // namespace vitrace::cli

#include "cli/lesson.h"
namespace vitrace::cli {
void lesson_05(Lesson& l) { l.run(kSmallVit); }
}  // namespace vitrace::cli

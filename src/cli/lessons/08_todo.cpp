#include "cli/lesson.h"
namespace vitrace::cli {
void lesson_08(Lesson& l) { l.run(kSmallVit); }
}  // namespace vitrace::cli

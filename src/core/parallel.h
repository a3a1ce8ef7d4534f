// The one OpenMP query vitrace makes, in a form that also builds without OpenMP.
#pragma once

#ifdef _OPENMP
#include <omp.h>
#endif

namespace vitrace {

// The threads of the team the caller runs in (1 outside a parallel region,
// and always 1 in a build without OpenMP).
inline int omp_threads() {
#ifdef _OPENMP
    return omp_get_num_threads();
#else
    return 1;
#endif
}

}  // namespace vitrace

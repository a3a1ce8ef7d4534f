// The OpenMP queries vitrace makes, in a form that also builds without OpenMP.
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

// This thread's number in its team, 0 to omp_threads() - 1.
inline int omp_thread_id() {
#ifdef _OPENMP
    return omp_get_thread_num();
#else
    return 0;
#endif
}

// True inside an active parallel region (one of more than one thread).
inline bool omp_in_parallel_region() {
#ifdef _OPENMP
    return omp_in_parallel();
#else
    return false;
#endif
}

}  // namespace vitrace

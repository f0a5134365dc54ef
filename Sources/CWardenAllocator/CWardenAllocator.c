#include "CWardenAllocator.h"

#if __has_include(<malloc.h>)
#include <malloc.h>
#endif

int warden_set_mmap_threshold(int bytes) {
#ifdef M_MMAP_THRESHOLD
    return mallopt(M_MMAP_THRESHOLD, bytes);
#else
    (void)bytes;
    return 0;
#endif
}

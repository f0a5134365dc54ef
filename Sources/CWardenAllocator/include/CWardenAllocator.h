#ifndef CWARDEN_ALLOCATOR_H
#define CWARDEN_ALLOCATOR_H

/// Serves allocations of `bytes` and more from mmap (glibc's M_MMAP_THRESHOLD), so that freeing one returns its
/// pages to the system. Returns 1 on success, 0 where the C library has no such setting.
int warden_set_mmap_threshold(int bytes);

#endif

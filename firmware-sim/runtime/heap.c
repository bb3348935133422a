/*
 * The heap shim: every C allocation entry point, including newlib's reentrant ones, forwards to
 * the host's TLSF heap through the service page. Defining all of them here keeps newlib's own
 * allocator (nano-mallocr / mallocr) out of the link entirely: the Makefile checks the linker map
 * for it. Failures set errno to ENOMEM as C requires.
 */
#include <errno.h>
#include <malloc.h>
#include <reent.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tlsf_sim.h"

/* --- ISO C / POSIX / common extensions --------------------------------------------------- */

void *malloc(size_t size) {
  void *block = tlsf_sim_malloc(size);
  if (!block) errno = ENOMEM;
  return block;
}

void free(void *ptr) {
  if (ptr) tlsf_sim_free(ptr);
}

void *realloc(void *ptr, size_t size) {
  void *block = tlsf_sim_realloc(ptr, size);
  if (!block && size != 0) errno = ENOMEM;
  return block;
}

void *calloc(size_t count, size_t size) {
  /* The host checks count * size for overflow and zeroes the block. */
  void *block = tlsf_sim_calloc(count, size);
  if (!block) errno = ENOMEM;
  return block;
}

static int is_power_of_two(size_t value) { return value != 0 && (value & (value - 1)) == 0; }

void *memalign(size_t align, size_t size) {
  if (!is_power_of_two(align)) {
    errno = EINVAL;
    return NULL;
  }
  void *block = tlsf_sim_memalign(align, size);
  if (!block) errno = ENOMEM;
  return block;
}

void *aligned_alloc(size_t align, size_t size) { return memalign(align, size); }

int posix_memalign(void **out, size_t align, size_t size) {
  if (!is_power_of_two(align) || align % sizeof(void *) != 0) return EINVAL;
  void *block = tlsf_sim_memalign(align, size);
  if (!block) return ENOMEM;
  *out = block;
  return 0;
}

size_t malloc_usable_size(void *ptr) { return ptr ? tlsf_sim_usable_size(ptr) : 0; }

/* Page-aligned variants, for completeness: the "page" is 4 KiB as on most MMU systems. */
void *valloc(size_t size) { return memalign(4096, size); }
void *pvalloc(size_t size) { return memalign(4096, (size + 4095u) & ~(size_t)4095u); }
void cfree(void *ptr) { free(ptr); }

void *reallocf(void *ptr, size_t size) {
  void *block = realloc(ptr, size);
  if (!block && size != 0) free(ptr);
  return block;
}

void *reallocarray(void *ptr, size_t count, size_t size) {
  if (size != 0 && count > SIZE_MAX / size) {
    errno = ENOMEM;
    return NULL;
  }
  return realloc(ptr, count * size);
}

/* Heap statistics from the host; mallinfo's fields are ints in newlib's <malloc.h>. */
struct mallinfo mallinfo(void) {
  tlsf_sim_heap_info_t info;
  struct mallinfo result;
  memset(&result, 0, sizeof result);
  tlsf_sim_heap_info(&info);
  result.arena = info.heap_size;
  result.uordblks = info.used;
  result.fordblks = info.free;
  result.usmblks = info.peak_used;
  result.keepcost = info.largest_free;
  return result;
}

void malloc_stats(void) {
  tlsf_sim_heap_info_t info;
  tlsf_sim_heap_info(&info);
  tlsf_sim_printf("heap: %lu used, %lu free, %lu largest free, %lu peak used, %lu bytes at 0x%08lx\n",
                  (unsigned long)info.used, (unsigned long)info.free, (unsigned long)info.largest_free,
                  (unsigned long)info.peak_used, (unsigned long)info.heap_size, (unsigned long)info.heap_base);
}

/* TLSF has no tunables reachable from firmware and never returns memory to a system. */
int mallopt(int parameter, int value) {
  (void)parameter;
  (void)value;
  return 0;
}
int malloc_trim(size_t pad) {
  (void)pad;
  return 0;
}

/* --- newlib's reentrant entry points (stdio, strdup, ... call these) ----------------------- */

void *_malloc_r(struct _reent *reent, size_t size) {
  void *block = tlsf_sim_malloc(size);
  if (!block) reent->_errno = ENOMEM;
  return block;
}

void _free_r(struct _reent *reent, void *ptr) {
  (void)reent;
  if (ptr) tlsf_sim_free(ptr);
}

void *_realloc_r(struct _reent *reent, void *ptr, size_t size) {
  void *block = tlsf_sim_realloc(ptr, size);
  if (!block && size != 0) reent->_errno = ENOMEM;
  return block;
}

void *_calloc_r(struct _reent *reent, size_t count, size_t size) {
  void *block = tlsf_sim_calloc(count, size);
  if (!block) reent->_errno = ENOMEM;
  return block;
}

void *_memalign_r(struct _reent *reent, size_t align, size_t size) {
  if (!is_power_of_two(align)) {
    reent->_errno = EINVAL;
    return NULL;
  }
  void *block = tlsf_sim_memalign(align, size);
  if (!block) reent->_errno = ENOMEM;
  return block;
}

size_t _malloc_usable_size_r(struct _reent *reent, void *ptr) {
  (void)reent;
  return ptr ? tlsf_sim_usable_size(ptr) : 0;
}

void *_valloc_r(struct _reent *reent, size_t size) { return _memalign_r(reent, 4096, size); }
void *_pvalloc_r(struct _reent *reent, size_t size) {
  return _memalign_r(reent, 4096, (size + 4095u) & ~(size_t)4095u);
}
void _cfree_r(struct _reent *reent, void *ptr) { _free_r(reent, ptr); }

void *_reallocf_r(struct _reent *reent, void *ptr, size_t size) {
  void *block = _realloc_r(reent, ptr, size);
  if (!block && size != 0) _free_r(reent, ptr);
  return block;
}

struct mallinfo _mallinfo_r(struct _reent *reent) {
  (void)reent;
  return mallinfo();
}
void _malloc_stats_r(struct _reent *reent) {
  (void)reent;
  malloc_stats();
}
int _mallopt_r(struct _reent *reent, int parameter, int value) {
  (void)reent;
  return mallopt(parameter, value);
}
int _malloc_trim_r(struct _reent *reent, size_t pad) {
  (void)reent;
  return malloc_trim(pad);
}

/* The host serialises nothing and the firmware is single-threaded: the lock is a no-op. */
void __malloc_lock(struct _reent *reent) { (void)reent; }
void __malloc_unlock(struct _reent *reent) { (void)reent; }

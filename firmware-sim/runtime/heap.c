/*
 * The heap shim: every C allocation entry point, including newlib's reentrant ones, forwards to
 * the host's TLSF heap through the service page. Defining all of them here keeps the C library's own
 * allocator (newlib's nano-mallocr / mallocr, picolibc's nano-malloc) out of the link entirely: the
 * Makefile and `tlsf-sim build` check the linker map for it, and with picolibc the link itself fails
 * (see the tripwires at the end). Failures set errno to ENOMEM as C requires.
 */
#include <errno.h>
#include <malloc.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#ifndef __PICOLIBC__
#include <reent.h>
#endif

#include "tlsf_sim.h"

#ifdef __PICOLIBC__
/* picolibc has no reentrancy structure (its errno is thread-local); the entry points pass NULL. */
struct _reent;
#endif

/*
 * Every entry point hands the host its own return address (TLSF_SIM_CALLER(), see tlsf_sim.h), so the host
 * reports the firmware function that called malloc(), not malloc() itself. The *_from helpers carry that
 * address through the wrappers that call each other (valloc -> memalign, reallocf -> realloc, ...). They are
 * always inlined so that malloc() stays one service call, and take the reentrancy structure that receives the
 * error code: NULL (folded away at compile time) for errno, which the ISO entry points set only on failure.
 */
#define HELPER static inline __attribute__((always_inline))

static int is_power_of_two(size_t value) { return value != 0 && (value & (value - 1)) == 0; }

HELPER void set_error(struct _reent *reent, int code) {
#ifdef __PICOLIBC__
  (void)reent;
#else
  if (reent) {
    reent->_errno = code;
    return;
  }
#endif
  errno = code;
}

HELPER void *malloc_from(struct _reent *reent, size_t size, const void *caller) {
  void *block = tlsf_sim_malloc_from(size, caller);
  if (!block) set_error(reent, ENOMEM);
  return block;
}

HELPER void free_from(void *ptr, const void *caller) {
  if (ptr) tlsf_sim_free_from(ptr, caller);
}

HELPER void *realloc_from(struct _reent *reent, void *ptr, size_t size, const void *caller) {
  void *block = tlsf_sim_realloc_from(ptr, size, caller);
  if (!block && size != 0) set_error(reent, ENOMEM);
  return block;
}

HELPER void *calloc_from(struct _reent *reent, size_t count, size_t size, const void *caller) {
  /* The host checks count * size for overflow and zeroes the block. */
  void *block = tlsf_sim_calloc_from(count, size, caller);
  if (!block) set_error(reent, ENOMEM);
  return block;
}

HELPER void *memalign_from(struct _reent *reent, size_t align, size_t size, const void *caller) {
  if (!is_power_of_two(align)) {
    set_error(reent, EINVAL);
    return NULL;
  }
  void *block = tlsf_sim_memalign_from(align, size, caller);
  if (!block) set_error(reent, ENOMEM);
  return block;
}

HELPER void *reallocf_from(struct _reent *reent, void *ptr, size_t size, const void *caller) {
  void *block = realloc_from(reent, ptr, size, caller);
  if (!block && size != 0) free_from(ptr, caller);
  return block;
}

HELPER size_t usable_size_from(void *ptr, const void *caller) {
  return ptr ? tlsf_sim_usable_size_from(ptr, caller) : 0;
}

/* Page-aligned variants, for completeness: the "page" is 4 KiB as on most MMU systems. */
#define PAGE_SIZE_BYTES 4096u
static inline size_t round_up_to_page(size_t size) { return (size + PAGE_SIZE_BYTES - 1) & ~(size_t)(PAGE_SIZE_BYTES - 1); }

/* --- ISO C / POSIX / common extensions --------------------------------------------------- */

void *malloc(size_t size) { return malloc_from(NULL, size, TLSF_SIM_CALLER()); }
void free(void *ptr) { free_from(ptr, TLSF_SIM_CALLER()); }
void *realloc(void *ptr, size_t size) { return realloc_from(NULL, ptr, size, TLSF_SIM_CALLER()); }
void *calloc(size_t count, size_t size) { return calloc_from(NULL, count, size, TLSF_SIM_CALLER()); }
void *memalign(size_t align, size_t size) { return memalign_from(NULL, align, size, TLSF_SIM_CALLER()); }
void *aligned_alloc(size_t align, size_t size) { return memalign_from(NULL, align, size, TLSF_SIM_CALLER()); }

int posix_memalign(void **out, size_t align, size_t size) {
  if (!is_power_of_two(align) || align % sizeof(void *) != 0) return EINVAL;
  void *block = tlsf_sim_memalign_from(align, size, TLSF_SIM_CALLER());
  if (!block) return ENOMEM;
  *out = block;
  return 0;
}

size_t malloc_usable_size(void *ptr) { return usable_size_from(ptr, TLSF_SIM_CALLER()); }

void *valloc(size_t size) { return memalign_from(NULL, PAGE_SIZE_BYTES, size, TLSF_SIM_CALLER()); }
void *pvalloc(size_t size) { return memalign_from(NULL, PAGE_SIZE_BYTES, round_up_to_page(size), TLSF_SIM_CALLER()); }
void cfree(void *ptr) { free_from(ptr, TLSF_SIM_CALLER()); }
void *reallocf(void *ptr, size_t size) { return reallocf_from(NULL, ptr, size, TLSF_SIM_CALLER()); }

void *reallocarray(void *ptr, size_t count, size_t size) {
  if (size != 0 && count > SIZE_MAX / size) {
    errno = ENOMEM;
    return NULL;
  }
  return realloc_from(NULL, ptr, count * size, TLSF_SIM_CALLER());
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

#ifndef __PICOLIBC__
/* --- newlib's reentrant entry points (stdio, strdup, ... call these) ----------------------- */

void *_malloc_r(struct _reent *reent, size_t size) { return malloc_from(reent, size, TLSF_SIM_CALLER()); }

void _free_r(struct _reent *reent, void *ptr) {
  (void)reent;
  free_from(ptr, TLSF_SIM_CALLER());
}

void *_realloc_r(struct _reent *reent, void *ptr, size_t size) {
  return realloc_from(reent, ptr, size, TLSF_SIM_CALLER());
}

void *_calloc_r(struct _reent *reent, size_t count, size_t size) {
  return calloc_from(reent, count, size, TLSF_SIM_CALLER());
}

void *_memalign_r(struct _reent *reent, size_t align, size_t size) {
  return memalign_from(reent, align, size, TLSF_SIM_CALLER());
}

size_t _malloc_usable_size_r(struct _reent *reent, void *ptr) {
  (void)reent;
  return usable_size_from(ptr, TLSF_SIM_CALLER());
}

void *_valloc_r(struct _reent *reent, size_t size) {
  return memalign_from(reent, PAGE_SIZE_BYTES, size, TLSF_SIM_CALLER());
}
void *_pvalloc_r(struct _reent *reent, size_t size) {
  return memalign_from(reent, PAGE_SIZE_BYTES, round_up_to_page(size), TLSF_SIM_CALLER());
}
void _cfree_r(struct _reent *reent, void *ptr) {
  (void)reent;
  free_from(ptr, TLSF_SIM_CALLER());
}

void *_reallocf_r(struct _reent *reent, void *ptr, size_t size) {
  return reallocf_from(reent, ptr, size, TLSF_SIM_CALLER());
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
#else
/*
 * picolibc's allocator objects (nano-malloc-*.c.o) each define at least one of the functions above, so were
 * anything to pull one in, the link fails with "multiple definition of `malloc'" (or free, mallinfo, ...)
 * instead of quietly growing a second heap. getpagesize() is here to make that true of the last of them.
 */
int getpagesize(void) { return (int)PAGE_SIZE_BYTES; }
#endif /* __PICOLIBC__ */

/*
 * Native stand-in for the tlsf-sim services, for `make host-check`: the scenario logic runs on
 * the development machine against the C library's malloc (wrapped to count live and peak bytes),
 * with the parameter defaults compiled in. TLSF_SIM_HOST_HEAP=<bytes> in the environment makes
 * allocations fail once the live requested bytes would exceed it (default 1 MiB), to try
 * out-of-memory paths.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <malloc.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tlsf_sim.h"

static size_t live_bytes, peak_bytes, heap_limit;
static unsigned long call_count;
/* Only blocks allocated once main is about to run are counted (not the sanitizer's or libc's). */
static int tracking;

/* Each block carries a 16-byte prefix: its requested size, and (offset from the libc block to
   ours) << 1 | tracked, so free() can account for it and find the libc block. */
#define PREFIX 16

extern void *__libc_malloc(size_t);
extern void __libc_free(void *);
extern void *__libc_memalign(size_t, size_t);

static void account(size_t added, size_t removed) {
  if (!tracking) return;
  live_bytes = live_bytes + added - removed;
  if (live_bytes > peak_bytes) peak_bytes = live_bytes;
}

static int over_limit(size_t extra) { return heap_limit != 0 && live_bytes + extra > heap_limit; }

static void *wrap(char *raw, size_t offset, size_t size) {
  char *block = raw + offset;
  ((size_t *)(block - PREFIX))[0] = size;
  ((size_t *)(block - PREFIX))[1] = (offset << 1) | (size_t)tracking;
  account(size, 0);
  return block;
}

static void *aligned_block(size_t align, size_t size) {
  call_count++;
  if (align < PREFIX) align = PREFIX;
  if (over_limit(size)) return NULL;
  char *raw = align == PREFIX ? __libc_malloc(size + PREFIX) : __libc_memalign(align, size + align);
  return raw ? wrap(raw, align, size) : NULL;
}

void *malloc(size_t size) {
  void *block = aligned_block(PREFIX, size);
  if (!block) errno = ENOMEM;
  return block;
}

void free(void *ptr) {
  if (!ptr) return;
  size_t *prefix = (size_t *)((char *)ptr - PREFIX);
  if (prefix[1] & 1u) account(0, prefix[0]);
  __libc_free((char *)ptr - (prefix[1] >> 1));
}

void *calloc(size_t count, size_t size) {
  if (size != 0 && count > SIZE_MAX / size) {
    errno = ENOMEM;
    return NULL;
  }
  void *block = malloc(count * size);
  if (block) memset(block, 0, count * size);
  return block;
}

void *realloc(void *ptr, size_t size) {
  if (!ptr) return malloc(size);
  if (size == 0) {
    free(ptr);
    return NULL;
  }
  size_t old = ((size_t *)((char *)ptr - PREFIX))[0];
  void *block = malloc(size);
  if (!block) return NULL;
  memcpy(block, ptr, old < size ? old : size);
  free(ptr);
  return block;
}

void *memalign(size_t align, size_t size) {
  if (align == 0 || (align & (align - 1)) != 0) {
    errno = EINVAL;
    return NULL;
  }
  void *block = aligned_block(align, size);
  if (!block) errno = ENOMEM;
  return block;
}

void *aligned_alloc(size_t align, size_t size) { return memalign(align, size); }

int posix_memalign(void **out, size_t align, size_t size) {
  if (align == 0 || (align & (align - 1)) != 0 || align % sizeof(void *) != 0) return EINVAL;
  void *block = aligned_block(align, size);
  if (!block) return ENOMEM;
  *out = block;
  return 0;
}

size_t malloc_usable_size(void *ptr) { return ptr ? ((size_t *)((char *)ptr - PREFIX))[0] : 0; }

static void summary(void) {
  fprintf(stdout, "host: peak requested %zu bytes, %lu allocation calls\n", peak_bytes, call_count);
  fflush(stdout);
}

__attribute__((constructor)) static void read_limit(void) {
  const char *limit = getenv("TLSF_SIM_HOST_HEAP");
  /* A bound like a board's, so scenarios that test exhaustion see it (default 1 MiB). */
  heap_limit = limit ? strtoul(limit, NULL, 0) : 1024u * 1024u;
  atexit(summary);
  /* The device's tlsf_sim_printf never allocates; keep the host's stdout from doing so either. */
  setvbuf(stdout, NULL, _IONBF, 0);
  tracking = 1;
}

void tlsf_sim_write(const char *buf, size_t len) { fwrite(buf, 1, len, stdout); }

void tlsf_sim_exit(int status) {
  exit(status);
}

uint32_t tlsf_sim_ticks(void) {
  static uint32_t ticks;
  return ticks += 1000;
}

void tlsf_sim_assert_fail(const char *file, int line, const char *expr) {
  fflush(stdout);
  fprintf(stdout, "assertion failed: %s:%d: %s\n", file, line, expr);
  exit(3);
}

void tlsf_sim_out_of_memory(size_t size) {
  fflush(stdout);
  fprintf(stdout, "out of memory: %zu bytes (live %zu, limit %zu)\n", size, live_bytes, heap_limit);
  exit(4);
}

void tlsf_sim_heap_info(tlsf_sim_heap_info_t *out) {
  memset(out, 0, sizeof *out);
  out->used = (uint32_t)live_bytes;
  out->peak_used = (uint32_t)peak_bytes;
  out->heap_size = (uint32_t)heap_limit;
  out->free = heap_limit > live_bytes ? (uint32_t)(heap_limit - live_bytes) : 0;
  out->largest_free = out->free;
}

void tlsf_sim_mark(const char *label) { (void)label; }

int tlsf_sim_printf(const char *format, ...) {
  va_list args;
  va_start(args, format);
  int length = vprintf(format, args);
  va_end(args);
  return length;
}


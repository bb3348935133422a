/*
 * Native stand-in for the tlsf-sim services, for `make host-check`: the scenario logic runs on
 * the development machine against the C library's malloc (wrapped to count live and peak bytes),
 * with the parameter defaults compiled in. TLSF_SIM_HOST_HEAP=<bytes> in the environment makes
 * allocations fail once the live requested bytes would exceed it, to try out-of-memory paths.
 */
#define _GNU_SOURCE
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

/* Each block carries its requested size in a 16-byte prefix so free() can account for it. */
#define PREFIX 16

extern void *__libc_malloc(size_t);
extern void __libc_free(void *);
extern void *__libc_realloc(void *, size_t);

static void account(size_t added, size_t removed) {
  if (!tracking) return;
  live_bytes = live_bytes + added - removed;
  if (live_bytes > peak_bytes) peak_bytes = live_bytes;
}

static int over_limit(size_t extra) {
  return heap_limit != 0 && live_bytes + extra > heap_limit;
}

void *malloc(size_t size) {
  call_count++;
  if (over_limit(size)) return NULL;
  char *raw = __libc_malloc(size + PREFIX);
  if (!raw) return NULL;
  ((size_t *)raw)[0] = size;
  ((size_t *)raw)[1] = (size_t)tracking;
  account(size, 0);
  return raw + PREFIX;
}

void free(void *ptr) {
  if (!ptr) return;
  char *raw = (char *)ptr - PREFIX;
  if (((size_t *)raw)[1]) account(0, ((size_t *)raw)[0]);
  __libc_free(raw);
}

void *calloc(size_t count, size_t size) {
  if (size != 0 && count > SIZE_MAX / size) return NULL;
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
  call_count++;
  char *raw = (char *)ptr - PREFIX;
  size_t old = ((size_t *)raw)[0];
  size_t was_tracked = ((size_t *)raw)[1];
  if (size > old && over_limit(size - old)) return NULL;
  char *moved = __libc_realloc(raw, size + PREFIX);
  if (!moved) return NULL;
  ((size_t *)moved)[0] = size;
  ((size_t *)moved)[1] = was_tracked;
  if (was_tracked) account(size, old);
  return moved + PREFIX;
}

size_t malloc_usable_size(void *ptr) { return ptr ? *(size_t *)((char *)ptr - PREFIX) : 0; }

static void summary(void) {
  fprintf(stdout, "host: peak requested %zu bytes, %lu allocation calls\n", peak_bytes, call_count);
  fflush(stdout);
}

__attribute__((constructor)) static void read_limit(void) {
  const char *limit = getenv("TLSF_SIM_HOST_HEAP");
  if (limit) heap_limit = strtoul(limit, NULL, 0);
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


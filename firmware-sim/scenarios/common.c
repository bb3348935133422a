#include "common.h"

#include <stdlib.h>

void rng_seed(rng_t *rng, uint32_t seed) {
  /* xorshift32 must not start at 0. */
  rng->state = seed ? seed : 0x2545F491u;
}

uint32_t rng_next(rng_t *rng) {
  uint32_t x = rng->state;
  x ^= x << 13;
  x ^= x >> 17;
  x ^= x << 5;
  rng->state = x;
  return x;
}

uint32_t rng_range(rng_t *rng, uint32_t low, uint32_t high) {
  uint32_t span = high - low + 1u;
  return span == 0 ? rng_next(rng) : low + rng_next(rng) % span;
}

static inline uint32_t pattern_word(uint32_t tag, uint32_t word_index) {
  uint32_t x = tag ^ (word_index * 0x9E3779B1u);
  return x ^ (x >> 15);
}

void pattern_fill(void *block, size_t from, size_t to, uint32_t tag) {
  uint8_t *bytes = (uint8_t *)block;
  size_t offset = from;
  while (offset < to && (offset & 3u) != 0) {
    bytes[offset] = (uint8_t)(pattern_word(tag, (uint32_t)(offset >> 2)) >> (8u * (offset & 3u)));
    offset++;
  }
  uint32_t *words = (uint32_t *)block;
  for (; offset + 4 <= to; offset += 4) words[offset >> 2] = pattern_word(tag, (uint32_t)(offset >> 2));
  for (; offset < to; offset++)
    bytes[offset] = (uint8_t)(pattern_word(tag, (uint32_t)(offset >> 2)) >> (8u * (offset & 3u)));
}

static void pattern_mismatch(const void *block, size_t offset, uint32_t expected, uint32_t found, const char *file,
                             int line) {
  tlsf_sim_printf("pattern mismatch in block %p at offset %lu: expected 0x%02lx, found 0x%02lx\n", block,
                  (unsigned long)offset, (unsigned long)expected, (unsigned long)found);
  tlsf_sim_assert_fail(file, line, "block contents intact (pattern_verify)");
}

void pattern_verify_at(const void *block, size_t from, size_t to, uint32_t tag, const char *file, int line) {
  const uint8_t *bytes = (const uint8_t *)block;
  size_t offset = from;
  for (; offset < to && (offset & 3u) != 0; offset++) {
    uint8_t expected = (uint8_t)(pattern_word(tag, (uint32_t)(offset >> 2)) >> (8u * (offset & 3u)));
    if (bytes[offset] != expected) pattern_mismatch(block, offset, expected, bytes[offset], file, line);
  }
  const uint32_t *words = (const uint32_t *)block;
  for (; offset + 4 <= to; offset += 4) {
    uint32_t expected = pattern_word(tag, (uint32_t)(offset >> 2));
    uint32_t found = words[offset >> 2];
    if (found != expected) {
      /* Name the first differing byte. */
      size_t byte = 0;
      while (((found ^ expected) >> (8u * byte) & 0xFFu) == 0) byte++;
      pattern_mismatch(block, offset + byte, (expected >> (8u * byte)) & 0xFFu, (found >> (8u * byte)) & 0xFFu,
                       file, line);
    }
  }
  for (; offset < to; offset++) {
    uint8_t expected = (uint8_t)(pattern_word(tag, (uint32_t)(offset >> 2)) >> (8u * (offset & 3u)));
    if (bytes[offset] != expected) pattern_mismatch(block, offset, expected, bytes[offset], file, line);
  }
}

/*
 * The wrappers call the heap service themselves, handing it their own return address as the caller
 * (tlsf_sim.h, "The caller argument"): through malloc() the host would charge every block to the wrapper,
 * while this way peak holders, the event log, heap fault reports and the out-of-memory stop name the scenario
 * function that called xmalloc. The native build (TLSF_SIM_HOST) has no service page and no sites, so it uses the C library.
 */
#ifdef TLSF_SIM_HOST
#define WRAPPER_CALLER() NULL
#define MALLOC_FROM(size, caller) ((void)(caller), malloc(size))
#define REALLOC_FROM(ptr, size, caller) ((void)(caller), realloc((ptr), (size)))
#define CALLOC_FROM(count, size, caller) ((void)(caller), calloc((count), (size)))
#define OUT_OF_MEMORY_FROM(size, caller) ((void)(caller), tlsf_sim_out_of_memory(size))
#else
#define WRAPPER_CALLER() TLSF_SIM_CALLER()
#define MALLOC_FROM tlsf_sim_malloc_from
#define REALLOC_FROM tlsf_sim_realloc_from
#define CALLOC_FROM tlsf_sim_calloc_from
#define OUT_OF_MEMORY_FROM tlsf_sim_out_of_memory_from
#endif

void *xmalloc(size_t size) {
  void *block = MALLOC_FROM(size, WRAPPER_CALLER());
  if (!block) OUT_OF_MEMORY_FROM(size, WRAPPER_CALLER());
  return block;
}

void *xrealloc(void *ptr, size_t size) {
  void *block = REALLOC_FROM(ptr, size, WRAPPER_CALLER());
  if (!block && size != 0) OUT_OF_MEMORY_FROM(size, WRAPPER_CALLER());
  return block;
}

void *xcalloc(size_t count, size_t size) {
  /* The host checks count * size for overflow and zeroes the block, as calloc() does. */
  void *block = CALLOC_FROM(count, size, WRAPPER_CALLER());
  if (!block) OUT_OF_MEMORY_FROM(count * size, WRAPPER_CALLER());
  return block;
}

uint32_t next_tag(void) {
  static uint32_t counter;
  return ++counter * 0x85EBCA6Bu;
}

void report_heap(const char *phase) {
  tlsf_sim_heap_info_t info;
  tlsf_sim_heap_info(&info);
  tlsf_sim_mark(phase);
  tlsf_sim_printf("[%s] heap used %lu, free %lu, largest free %lu, peak used %lu\n", phase,
                  (unsigned long)info.used, (unsigned long)info.free, (unsigned long)info.largest_free,
                  (unsigned long)info.peak_used);
}

int32_t param_clamp(int32_t value, int32_t low, int32_t high) {
  return value < low ? low : value > high ? high : value;
}

/*
 * Helpers shared by the built-in scenarios: a seeded PRNG, block patterns that catch overlap and
 * corruption, allocation wrappers that end the run with `out-of-memory`, and progress reports.
 */
#ifndef TLSF_SIM_SCENARIO_COMMON_H
#define TLSF_SIM_SCENARIO_COMMON_H

#include <stddef.h>
#include <stdint.h>

#include "tlsf_sim.h"

typedef struct {
  uint32_t state;
} rng_t;

void rng_seed(rng_t *rng, uint32_t seed);
uint32_t rng_next(rng_t *rng);
/* Uniform in [low, high] (inclusive); low <= high. */
uint32_t rng_range(rng_t *rng, uint32_t low, uint32_t high);

/*
 * Every byte of a held block carries a value derived from the block's tag and the byte's offset,
 * so a block that overlaps another, or is moved without its contents, fails verification.
 * `block` must be 4-aligned (malloc guarantees 8).
 */
void pattern_fill(void *block, size_t from, size_t to, uint32_t tag);
void pattern_verify_at(const void *block, size_t from, size_t to, uint32_t tag, const char *file, int line);
#define pattern_verify(block, from, to, tag) pattern_verify_at((block), (from), (to), (tag), __FILE__, __LINE__)

/* malloc/realloc/calloc that stop the run with result out-of-memory when the heap cannot serve them. */
void *xmalloc(size_t size);
void *xrealloc(void *ptr, size_t size);
void *xcalloc(size_t count, size_t size);

/* A unique tag for the next block. */
uint32_t next_tag(void);

/* One progress line with the host's heap figures. */
void report_heap(const char *phase);

/* Clamps a parameter into [low, high] so a bad --param cannot make a scenario misbehave. */
int32_t param_clamp(int32_t value, int32_t low, int32_t high);

#endif

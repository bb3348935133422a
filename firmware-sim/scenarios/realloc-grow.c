/*
 * realloc-grow: growing containers, mostly realloc. Several dynamic arrays grow side by side
 * (so a block often cannot grow in place and must move), each with a common growth policy:
 * doubling (C++ std::vector in libstdc++), x1.5 (MSVC, folly), a fixed +16 elements, and exact
 * growth by one element (naive C). A string builder appends words with realloc to the exact
 * length, as naive C string code does. Every realloc is checked: the old contents must arrive
 * intact at the new address. At the end of each round the arrays are shrunk to fit, verified
 * and freed.
 */
#include <stdlib.h>
#include <string.h>

#include "common.h"

TLSF_SIM_PARAM(rounds, 3);
TLSF_SIM_PARAM(elements, 400);     /* final length of each array */
TLSF_SIM_PARAM(string_len, 1024);  /* final length of the string builder */
TLSF_SIM_PARAM(seed, 13);

enum { POLICY_DOUBLE, POLICY_ONE_AND_HALF, POLICY_PLUS_16, POLICY_EXACT, POLICY_COUNT };
static const char *const policy_names[POLICY_COUNT] = {"x2", "x1.5", "+16", "+1"};

typedef struct {
  uint32_t *items;
  uint32_t length, capacity, tag;
  uint32_t moves, reallocs;
} vector_t;

static uint32_t element(uint32_t tag, uint32_t index) { return (tag ^ (index * 0x9E3779B1u)) + index; }

static void vector_verify(const vector_t *v) {
  for (uint32_t i = 0; i < v->length; i++) {
    if (v->items[i] != element(v->tag, i)) {
      tlsf_sim_printf("vector element %lu of %lu lost across realloc\n", (unsigned long)i, (unsigned long)v->length);
      TLSF_SIM_ASSERT(!"vector contents preserved by realloc");
    }
  }
}

static void vector_push(vector_t *v, int policy) {
  if (v->length == v->capacity) {
    uint32_t capacity;
    switch (policy) {
      case POLICY_DOUBLE: capacity = v->capacity ? v->capacity * 2u : 4u; break;
      case POLICY_ONE_AND_HALF: capacity = v->capacity ? v->capacity + v->capacity / 2u + 1u : 4u; break;
      case POLICY_PLUS_16: capacity = v->capacity + 16u; break;
      default: capacity = v->capacity + 1u; break;
    }
    uint32_t *old = v->items;
    v->items = (uint32_t *)xrealloc(v->items, capacity * sizeof *v->items);
    v->reallocs++;
    if (old && v->items != old) v->moves++;
    v->capacity = capacity;
    /* Check the whole array after a move, a sample of it otherwise (keeps +1 growth from being O(n^2)). */
    if (v->items != old || v->length < 64) vector_verify(v);
    else TLSF_SIM_ASSERT(v->items[v->length - 1] == element(v->tag, v->length - 1));
  }
  v->items[v->length] = element(v->tag, v->length);
  v->length++;
}

static const char *const pieces[] = {"sensor ", "value=", "42 ", "ok ", "temperature ", "alarm; ", "0x1f ",
                                     "retry ", "{\"k\":1} ", "\n"};
#define PIECE_COUNT (sizeof pieces / sizeof pieces[0])

int main(void) {
  int32_t rounds = param_clamp(TLSF_SIM_PARAM_GET(rounds), 1, 1000000);
  uint32_t elements = (uint32_t)param_clamp(TLSF_SIM_PARAM_GET(elements), 1, 1 << 22);
  uint32_t string_len = (uint32_t)param_clamp(TLSF_SIM_PARAM_GET(string_len), 1, 1 << 22);
  uint32_t seed = (uint32_t)TLSF_SIM_PARAM_GET(seed);
  rng_t rng;
  rng_seed(&rng, seed);
  tlsf_sim_printf("realloc-grow: %ld rounds, 4 arrays of %lu elements, a %lu-byte string\n", (long)rounds,
                  (unsigned long)elements, (unsigned long)string_len);

  uint32_t total_moves = 0, total_reallocs = 0;
  for (int32_t round = 0; round < rounds; round++) {
    vector_t vectors[POLICY_COUNT];
    memset(vectors, 0, sizeof vectors);
    for (int p = 0; p < POLICY_COUNT; p++) vectors[p].tag = next_tag();

    char *text = NULL;
    size_t text_length = 0;
    rng_t replay = rng; /* the same choices again, to rebuild the expected string */
    uint32_t string_moves = 0, string_reallocs = 0;

    /* Interleave: pushes go to random arrays, and now and then a piece goes on the string. */
    int done = 0;
    while (!done) {
      int p = (int)rng_range(&rng, 0, POLICY_COUNT - 1);
      if (vectors[p].length < elements) vector_push(&vectors[p], p);
      if (text_length < string_len && rng_range(&rng, 0, 1) == 0) {
        const char *piece = pieces[rng_range(&rng, 0, PIECE_COUNT - 1)];
        size_t n = strlen(piece);
        char *old = text;
        text = (char *)xrealloc(text, text_length + n + 1);
        string_reallocs++;
        if (old && old != text) string_moves++;
        memcpy(text + text_length, piece, n + 1);
        text_length += n;
      }
      done = text_length >= string_len;
      for (int q = 0; q < POLICY_COUNT; q++) done = done && vectors[q].length >= elements;
    }
    if (round == 0) report_heap("grown");

    /* Rebuild the string from the replayed choices and compare. */
    size_t offset = 0;
    int ok = 1;
    while (offset < text_length) {
      int p = (int)rng_range(&replay, 0, POLICY_COUNT - 1);
      (void)p;
      if (rng_range(&replay, 0, 1) == 0) {
        const char *piece = pieces[rng_range(&replay, 0, PIECE_COUNT - 1)];
        size_t n = strlen(piece);
        if (memcmp(text + offset, piece, n) != 0) ok = 0;
        offset += n;
      }
    }
    TLSF_SIM_ASSERT(ok && text[text_length] == 0);

    /* Shrink to fit, verify, free. */
    for (int p = 0; p < POLICY_COUNT; p++) {
      vector_t *v = &vectors[p];
      v->items = (uint32_t *)xrealloc(v->items, v->length * sizeof *v->items);
      v->capacity = v->length;
      vector_verify(v);
      if (round == 0)
        tlsf_sim_printf("  %-5s %lu reallocs, %lu moved\n", policy_names[p], (unsigned long)v->reallocs,
                        (unsigned long)v->moves);
      total_moves += v->moves;
      total_reallocs += v->reallocs;
      free(v->items);
    }
    if (round == 0)
      tlsf_sim_printf("  string %lu reallocs, %lu moved\n", (unsigned long)string_reallocs,
                      (unsigned long)string_moves);
    total_moves += string_moves;
    total_reallocs += string_reallocs;
    free(text);
  }
  report_heap("end");
  tlsf_sim_printf("realloc-grow: %lu reallocs, %lu moved their block\n", (unsigned long)total_reallocs,
                  (unsigned long)total_moves);
  return 0;
}

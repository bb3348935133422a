/*
 * third-party: ordinary C that knows nothing about tlsf-sim (third-party/hashmap.c and
 * third-party/textlist.c include only <stdlib.h> and <string.h>; keys are strdup'ed by newlib)
 * counts word frequencies in generated text and prints a ranking with newlib's printf, whose
 * stdout buffer is allocated through _malloc_r. It then checks the shim's contracts: calloc
 * zeroes, realloc keeps contents, aligned_alloc / memalign / posix_memalign align, bad
 * alignments fail with EINVAL, exhaustion fails with ENOMEM and a NULL, malloc_usable_size
 * covers the request.
 */
#include <errno.h>
#include <malloc.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"
#include "third-party/hashmap.h"
#include "third-party/textlist.h"

TLSF_SIM_PARAM(words, 600);        /* words of generated text */
TLSF_SIM_PARAM(vocabulary, 40);    /* distinct words */
TLSF_SIM_PARAM(seed, 17);

static const char *const syllables[] = {"ka", "lo", "mi", "ne", "ru", "ta", "vo", "zi"};

static void make_word(uint32_t n, char *out) {
  /* Word n of the vocabulary: 2-3 syllables picked from n's digits in base 8. */
  int count = 2 + (int)(n % 2);
  out[0] = 0;
  for (int i = 0; i < count; i++) {
    strcat(out, syllables[n % 8]);
    n /= 8;
    n += (uint32_t)i * 3u;
  }
}

typedef struct {
  textlist *list;
  long total;
  int failed;
} collect_t;

static void collect(const char *key, long value, void *context) {
  collect_t *c = (collect_t *)context;
  c->total += value;
  if (textlist_push(c->list, key, value) != 0) c->failed = 1;
}

static void check_shim(void) {
  /* calloc zeroes (the host clears the block). */
  unsigned char *zeroed = calloc(100, 3);
  TLSF_SIM_ASSERT(zeroed != NULL);
  for (int i = 0; i < 300; i++) TLSF_SIM_ASSERT(zeroed[i] == 0);
  TLSF_SIM_ASSERT(malloc_usable_size(zeroed) >= 300);
  /* realloc keeps the contents. */
  memset(zeroed, 0x5A, 300);
  zeroed = realloc(zeroed, 1000);
  TLSF_SIM_ASSERT(zeroed != NULL);
  for (int i = 0; i < 300; i++) TLSF_SIM_ASSERT(zeroed[i] == 0x5A);
  free(zeroed);

  void *aligned = aligned_alloc(64, 128);
  TLSF_SIM_ASSERT(aligned != NULL && ((uintptr_t)aligned & 63u) == 0);
  free(aligned);
  aligned = memalign(256, 40);
  TLSF_SIM_ASSERT(aligned != NULL && ((uintptr_t)aligned & 255u) == 0);
  free(aligned);
  void *out = NULL;
  TLSF_SIM_ASSERT(posix_memalign(&out, 32, 100) == 0 && out != NULL && ((uintptr_t)out & 31u) == 0);
  free(out);
  TLSF_SIM_ASSERT(posix_memalign(&out, 24, 100) == EINVAL);
  errno = 0;
  TLSF_SIM_ASSERT(memalign(3, 16) == NULL && errno == EINVAL);

  /* Exhaustion: a request larger than any heap fails cleanly. */
  errno = 0;
  TLSF_SIM_ASSERT(malloc(0x7FFFFFF0u) == NULL && errno == ENOMEM);
  TLSF_SIM_ASSERT(posix_memalign(&out, 16, 0x7FFFFFF0u) == ENOMEM);
  volatile size_t half = 0x10000; /* volatile: the compiler would reject the overflow it can see */
  TLSF_SIM_ASSERT(calloc(half, half) == NULL); /* count * size overflows */
  free(NULL);
}

int main(void) {
  long words = param_clamp(TLSF_SIM_PARAM_GET(words), 1, 10000000);
  uint32_t vocabulary = (uint32_t)param_clamp(TLSF_SIM_PARAM_GET(vocabulary), 1, 4096);
  rng_t rng;
  rng_seed(&rng, (uint32_t)TLSF_SIM_PARAM_GET(seed));
  printf("third-party: counting %ld words over a vocabulary of %lu\n", words, (unsigned long)vocabulary);

  hashmap *map = hashmap_new(8);
  if (!map) tlsf_sim_out_of_memory(sizeof(void *) * 8);
  /* Zipf-like: low word numbers are much more frequent, as in natural text. */
  long *expected = xcalloc(vocabulary, sizeof *expected);
  char word[16];
  for (long i = 0; i < words; i++) {
    uint32_t n = rng_range(&rng, 0, vocabulary - 1u);
    n = rng_range(&rng, 0, n);
    make_word(n, word);
    if (hashmap_add(map, word, 1) < 0) tlsf_sim_out_of_memory(sizeof word);
    expected[n]++;
  }
  /* Distinct vocabulary numbers can spell the same word; compare per spelled word. */
  for (uint32_t n = 0; n < vocabulary; n++) {
    if (!expected[n]) continue;
    make_word(n, word);
    long total = 0;
    char other[16];
    for (uint32_t m = 0; m < vocabulary; m++) {
      make_word(m, other);
      if (strcmp(word, other) == 0) total += expected[m];
    }
    TLSF_SIM_ASSERT(hashmap_get(map, word) == total);
  }
  free(expected);

  textlist list = {NULL, 0};
  collect_t context = {&list, 0, 0};
  hashmap_each(map, collect, &context);
  if (context.failed) tlsf_sim_out_of_memory(sizeof(textlist_node) + 16);
  TLSF_SIM_ASSERT(context.total == words);
  TLSF_SIM_ASSERT(list.length == hashmap_size(map));
  textlist_sort(&list);
  printf("%lu distinct words; most frequent:\n", (unsigned long)list.length);
  int shown = 0;
  long previous = -1;
  for (const textlist_node *node = list.head; node; node = node->next) {
    TLSF_SIM_ASSERT(previous < 0 || node->weight <= previous);
    previous = node->weight;
    if (shown++ < 5) printf("  %-8s %ld\n", node->text, node->weight);
  }
  textlist_clear(&list);
  hashmap_free(map);

  check_shim();
  printf("third-party: hash map, sorted list, printf and the allocation contracts all check out\n");
  return 0;
}

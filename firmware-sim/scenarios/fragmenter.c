/*
 * fragmenter: an adversarial pattern that defeats first-fit (and hurts every allocator) - how a
 * learner sees fragmentation. Each phase allocates `count` pairs: a short-lived block of the
 * phase's size and a small long-lived "pin". The short-lived blocks are freed at the end of the
 * phase, leaving holes between the pins; the next phase asks for blocks `growth_pct` percent
 * larger, which no hole can hold, so the heap's span keeps growing although live data stays
 * small. Pins die after `pin_lifetime` phases, letting old holes merge. After every phase the
 * scenario prints the heap's free bytes, its largest free block and the resulting fragmentation
 * (1 - largest free / free), the figure the report's `fragmentation` field gives at the end.
 * With tolerate_oom=1 a failed allocation is counted instead of ending the run, so you can watch
 * requests fail while plenty of (scattered) memory is free.
 */
#include <stdlib.h>

#include "common.h"

TLSF_SIM_PARAM(phases, 10);
TLSF_SIM_PARAM(count, 12);          /* pairs per phase */
TLSF_SIM_PARAM(start_size, 48);     /* short-lived block size in phase 0 */
TLSF_SIM_PARAM(growth_pct, 30);     /* size increase per phase */
TLSF_SIM_PARAM(pin_size, 16);
TLSF_SIM_PARAM(pin_lifetime, 3);    /* phases a pin lives */
TLSF_SIM_PARAM(tolerate_oom, 0);
TLSF_SIM_PARAM(seed, 9);

enum { MAX_COUNT = 256, MAX_LIFETIME = 16 };

typedef struct {
  uint8_t *block;
  uint32_t size, tag;
} held_t;

/* Bookkeeping on the heap (not .bss), so the small boards keep their RAM for the pattern itself. */
static held_t *pins; /* (pin_lifetime + 1) generations of `count` pins */
static held_t *shorts;
static uint32_t failures;

static int hold(held_t *held, uint32_t size, int tolerate) {
  held->block = (uint8_t *)malloc(size);
  if (!held->block) {
    if (!tolerate) tlsf_sim_out_of_memory(size);
    failures++;
    return 0;
  }
  held->size = size;
  held->tag = next_tag();
  pattern_fill(held->block, 0, size, held->tag);
  return 1;
}

static void release(held_t *held) {
  if (!held->block) return;
  pattern_verify(held->block, 0, held->size, held->tag);
  free(held->block);
  held->block = NULL;
}

int main(void) {
  uint32_t phases = (uint32_t)param_clamp(TLSF_SIM_PARAM_GET(phases), 1, 1000);
  int count = (int)param_clamp(TLSF_SIM_PARAM_GET(count), 1, MAX_COUNT);
  uint32_t size = (uint32_t)param_clamp(TLSF_SIM_PARAM_GET(start_size), 1, 1 << 20);
  uint32_t growth = (uint32_t)param_clamp(TLSF_SIM_PARAM_GET(growth_pct), 0, 1000);
  uint32_t pin_size = (uint32_t)param_clamp(TLSF_SIM_PARAM_GET(pin_size), 1, 1 << 20);
  uint32_t lifetime = (uint32_t)param_clamp(TLSF_SIM_PARAM_GET(pin_lifetime), 1, MAX_LIFETIME);
  int tolerate = TLSF_SIM_PARAM_GET(tolerate_oom) != 0;
  rng_t rng;
  rng_seed(&rng, (uint32_t)TLSF_SIM_PARAM_GET(seed));
  tlsf_sim_printf("fragmenter: %lu phases of %d pairs, %lu bytes growing %lu%% per phase\n", (unsigned long)phases,
                  count, (unsigned long)size, (unsigned long)growth);
  pins = (held_t *)xcalloc((size_t)(lifetime + 1u) * (size_t)count, sizeof *pins);
  shorts = (held_t *)xcalloc((size_t)count, sizeof *shorts);
  tlsf_sim_printf("phase   size   used   free  largest  frag%%\n");

  for (uint32_t phase = 0; phase < phases; phase++) {
    held_t *phase_pins = &pins[(phase % (lifetime + 1u)) * (uint32_t)count];
    /* The pins allocated lifetime+1 phases ago die now, before this phase reuses their slots. */
    for (int i = 0; i < count; i++) release(&phase_pins[i]);
    for (int i = 0; i < count; i++) {
      /* A little jitter keeps sizes from being exactly one class. */
      hold(&shorts[i], size + rng_range(&rng, 0, size / 8u), tolerate);
      hold(&phase_pins[i], pin_size, tolerate);
    }
    for (int i = 0; i < count; i++) release(&shorts[i]);

    tlsf_sim_heap_info_t info;
    tlsf_sim_heap_info(&info);
    uint32_t frag_pct = info.free ? 100u - (uint32_t)((uint64_t)info.largest_free * 100u / info.free) : 0u;
    tlsf_sim_printf("%5lu %6lu %6lu %6lu %8lu %5lu\n", (unsigned long)phase, (unsigned long)size,
                    (unsigned long)info.used, (unsigned long)info.free, (unsigned long)info.largest_free,
                    (unsigned long)frag_pct);
    tlsf_sim_mark("phase");
    size += size * growth / 100u;
  }

  for (uint32_t slot = 0; slot <= lifetime; slot++)
    for (int i = 0; i < count; i++) release(&pins[slot * (uint32_t)count + (uint32_t)i]);
  free(pins);
  free(shorts);
  report_heap("end");
  tlsf_sim_printf("fragmenter: %lu allocations failed\n", (unsigned long)failures);
  return 0;
}

/* Messages of growing size pass through rings of several capacities; every byte is checked on the way out. */
#include <stdio.h>
#include <string.h>

#include "ring.h"
#include "tlsf_sim.h"

int main(void) {
  static const size_t capacities[] = {16, 100, 1000};
  size_t moved = 0;
  for (size_t c = 0; c < sizeof capacities / sizeof capacities[0]; c++) {
    struct ring *ring = ring_create(capacities[c]);
    if (!ring) tlsf_sim_out_of_memory(capacities[c]);
    char message[64];
    char back[64];
    for (int i = 0; i < 40; i++) {
      int length = snprintf(message, sizeof message, "message %d through a ring of %u", i, (unsigned)capacities[c]);
      size_t written = ring_write(ring, message, (size_t)length);
      size_t read = ring_read(ring, back, written);
      TLSF_SIM_ASSERT(read == written && memcmp(message, back, read) == 0);
      moved += read;
    }
    ring_destroy(ring);
  }
  printf("make example: %u bytes through 3 rings\n", (unsigned)moved);
  return 0;
}

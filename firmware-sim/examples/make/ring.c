#include "ring.h"

#include <stdlib.h>

struct ring {
  size_t capacity;
  size_t head;
  size_t used;
  char *bytes;
};

struct ring *ring_create(size_t capacity) {
  struct ring *ring = malloc(sizeof *ring);
  if (!ring) return NULL;
  ring->bytes = malloc(capacity);
  if (!ring->bytes) {
    free(ring);
    return NULL;
  }
  ring->capacity = capacity;
  ring->head = 0;
  ring->used = 0;
  return ring;
}

void ring_destroy(struct ring *ring) {
  if (!ring) return;
  free(ring->bytes);
  free(ring);
}

size_t ring_write(struct ring *ring, const char *bytes, size_t length) {
  size_t written = 0;
  while (written < length && ring->used < ring->capacity) {
    ring->bytes[(ring->head + ring->used) % ring->capacity] = bytes[written++];
    ring->used++;
  }
  return written;
}

size_t ring_read(struct ring *ring, char *bytes, size_t length) {
  size_t read = 0;
  while (read < length && ring->used > 0) {
    bytes[read++] = ring->bytes[ring->head];
    ring->head = (ring->head + 1) % ring->capacity;
    ring->used--;
  }
  return read;
}

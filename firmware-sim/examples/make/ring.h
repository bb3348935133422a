/* A byte ring buffer whose storage comes from malloc: the kind of small module a firmware links. */
#ifndef RING_H
#define RING_H

#include <stddef.h>

struct ring;

struct ring *ring_create(size_t capacity);
void ring_destroy(struct ring *ring);
/* Returns the number of bytes stored (fewer than length when the ring is full). */
size_t ring_write(struct ring *ring, const char *bytes, size_t length);
size_t ring_read(struct ring *ring, char *bytes, size_t length);

#endif

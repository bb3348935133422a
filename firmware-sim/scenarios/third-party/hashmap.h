/* A small string-keyed hash map, written as ordinary portable C: nothing here knows about tlsf-sim. */
#ifndef HASHMAP_H
#define HASHMAP_H

#include <stddef.h>

typedef struct hashmap hashmap;

hashmap *hashmap_new(size_t initial_buckets);
void hashmap_free(hashmap *map);
/* Adds `delta` to the value under `key` (inserting it at 0 first); returns the new value or -1 on ENOMEM. */
long hashmap_add(hashmap *map, const char *key, long delta);
/* The value under `key`, or 0. */
long hashmap_get(const hashmap *map, const char *key);
size_t hashmap_size(const hashmap *map);
/* Calls visit for every entry, in bucket order. */
void hashmap_each(const hashmap *map, void (*visit)(const char *key, long value, void *context), void *context);

#endif

/* Separate chaining, FNV-1a hashing, doubling when the load factor passes 3/4. Only the standard
   library: the keys are strdup'ed (newlib's strdup calls _malloc_r), buckets come from calloc. */
#include <stdlib.h>
#include <string.h>

#include "hashmap.h"

typedef struct entry {
  struct entry *next;
  char *key;
  long value;
  unsigned long hash;
} entry;

struct hashmap {
  entry **buckets;
  size_t bucket_count;
  size_t size;
};

static unsigned long hash_key(const char *key) {
  unsigned long hash = 2166136261ul;
  while (*key) {
    hash ^= (unsigned char)*key++;
    hash *= 16777619ul;
  }
  return hash;
}

hashmap *hashmap_new(size_t initial_buckets) {
  hashmap *map = malloc(sizeof *map);
  if (!map) return NULL;
  map->bucket_count = initial_buckets ? initial_buckets : 8;
  map->size = 0;
  map->buckets = calloc(map->bucket_count, sizeof *map->buckets);
  if (!map->buckets) {
    free(map);
    return NULL;
  }
  return map;
}

void hashmap_free(hashmap *map) {
  if (!map) return;
  for (size_t i = 0; i < map->bucket_count; i++) {
    entry *e = map->buckets[i];
    while (e) {
      entry *next = e->next;
      free(e->key);
      free(e);
      e = next;
    }
  }
  free(map->buckets);
  free(map);
}

static int grow(hashmap *map) {
  size_t count = map->bucket_count * 2;
  entry **buckets = calloc(count, sizeof *buckets);
  if (!buckets) return -1;
  for (size_t i = 0; i < map->bucket_count; i++) {
    entry *e = map->buckets[i];
    while (e) {
      entry *next = e->next;
      size_t slot = e->hash % count;
      e->next = buckets[slot];
      buckets[slot] = e;
      e = next;
    }
  }
  free(map->buckets);
  map->buckets = buckets;
  map->bucket_count = count;
  return 0;
}

long hashmap_add(hashmap *map, const char *key, long delta) {
  unsigned long hash = hash_key(key);
  for (entry *e = map->buckets[hash % map->bucket_count]; e; e = e->next) {
    if (e->hash == hash && strcmp(e->key, key) == 0) return e->value += delta;
  }
  if ((map->size + 1) * 4 > map->bucket_count * 3 && grow(map) != 0) return -1;
  entry *e = malloc(sizeof *e);
  if (!e) return -1;
  e->key = strdup(key);
  if (!e->key) {
    free(e);
    return -1;
  }
  e->hash = hash;
  e->value = delta;
  size_t slot = hash % map->bucket_count;
  e->next = map->buckets[slot];
  map->buckets[slot] = e;
  map->size++;
  return e->value;
}

long hashmap_get(const hashmap *map, const char *key) {
  unsigned long hash = hash_key(key);
  for (const entry *e = map->buckets[hash % map->bucket_count]; e; e = e->next) {
    if (e->hash == hash && strcmp(e->key, key) == 0) return e->value;
  }
  return 0;
}

size_t hashmap_size(const hashmap *map) { return map->size; }

void hashmap_each(const hashmap *map, void (*visit)(const char *key, long value, void *context), void *context) {
  for (size_t i = 0; i < map->bucket_count; i++) {
    for (const entry *e = map->buckets[i]; e; e = e->next) visit(e->key, e->value, context);
  }
}

#include "catalogue.h"

#include <stdlib.h>
#include <string.h>

struct item {
  char *name;
  unsigned quantity;
};

struct catalogue {
  struct item *items;
  size_t count;
  size_t capacity;
};

struct catalogue *catalogue_create(void) { return calloc(1, sizeof(struct catalogue)); }

void catalogue_destroy(struct catalogue *catalogue) {
  if (!catalogue) return;
  for (size_t i = 0; i < catalogue->count; i++) free(catalogue->items[i].name);
  free(catalogue->items);
  free(catalogue);
}

int catalogue_add(struct catalogue *catalogue, const char *name, unsigned quantity) {
  if (catalogue->count == catalogue->capacity) {
    size_t capacity = catalogue->capacity ? catalogue->capacity * 2 : 4;
    struct item *items = realloc(catalogue->items, capacity * sizeof *items);
    if (!items) return -1;
    catalogue->items = items;
    catalogue->capacity = capacity;
  }
  char *copy = strdup(name);
  if (!copy) return -1;
  catalogue->items[catalogue->count].name = copy;
  catalogue->items[catalogue->count].quantity = quantity;
  catalogue->count++;
  return 0;
}

size_t catalogue_count(const struct catalogue *catalogue) { return catalogue->count; }

unsigned catalogue_total(const struct catalogue *catalogue) {
  unsigned total = 0;
  for (size_t i = 0; i < catalogue->count; i++) total += catalogue->items[i].quantity;
  return total;
}

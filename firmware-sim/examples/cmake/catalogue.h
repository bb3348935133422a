/* A C module: a catalogue of named items whose names are copied onto the heap. */
#ifndef CATALOGUE_H
#define CATALOGUE_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

struct catalogue;

struct catalogue *catalogue_create(void);
void catalogue_destroy(struct catalogue *catalogue);
/* Returns 0 on success, -1 when memory ran out. */
int catalogue_add(struct catalogue *catalogue, const char *name, unsigned quantity);
size_t catalogue_count(const struct catalogue *catalogue);
unsigned catalogue_total(const struct catalogue *catalogue);

#ifdef __cplusplus
}
#endif

#endif

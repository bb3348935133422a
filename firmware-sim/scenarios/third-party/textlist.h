/* A list of owned strings with a merge sort: ordinary portable C. */
#ifndef TEXTLIST_H
#define TEXTLIST_H

#include <stddef.h>

typedef struct textlist_node {
  struct textlist_node *next;
  long weight;
  char text[]; /* flexible array member: one block per node */
} textlist_node;

typedef struct {
  textlist_node *head;
  size_t length;
} textlist;

/* Returns 0, or -1 when memory ran out (the list is unchanged). */
int textlist_push(textlist *list, const char *text, long weight);
/* Sorts by descending weight, then ascending text; stable. */
void textlist_sort(textlist *list);
void textlist_clear(textlist *list);

#endif

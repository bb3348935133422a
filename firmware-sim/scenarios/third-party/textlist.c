#include <stdlib.h>
#include <string.h>

#include "textlist.h"

int textlist_push(textlist *list, const char *text, long weight) {
  size_t length = strlen(text);
  textlist_node *node = malloc(sizeof *node + length + 1);
  if (!node) return -1;
  memcpy(node->text, text, length + 1);
  node->weight = weight;
  node->next = list->head;
  list->head = node;
  list->length++;
  return 0;
}

static int before(const textlist_node *a, const textlist_node *b) {
  if (a->weight != b->weight) return a->weight > b->weight;
  return strcmp(a->text, b->text) <= 0;
}

static textlist_node *merge_sort(textlist_node *head, size_t length) {
  if (length < 2) return head;
  size_t half = length / 2;
  textlist_node *middle = head;
  for (size_t i = 1; i < half; i++) middle = middle->next;
  textlist_node *right = middle->next;
  middle->next = NULL;
  textlist_node *left = merge_sort(head, half);
  right = merge_sort(right, length - half);
  textlist_node sentinel;
  textlist_node *tail = &sentinel;
  while (left && right) {
    if (before(left, right)) {
      tail->next = left;
      left = left->next;
    } else {
      tail->next = right;
      right = right->next;
    }
    tail = tail->next;
  }
  tail->next = left ? left : right;
  return sentinel.next;
}

void textlist_sort(textlist *list) { list->head = merge_sort(list->head, list->length); }

void textlist_clear(textlist *list) {
  textlist_node *node = list->head;
  while (node) {
    textlist_node *next = node->next;
    free(node);
    node = next;
  }
  list->head = NULL;
  list->length = 0;
}

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tlsf_sim.h"

TLSF_SIM_PARAM(items, 50);

struct item {
  struct item *next;
  char name[24];
};

int main(void) {
  struct item *list = NULL;
  int count = TLSF_SIM_PARAM_GET(items);
  for (int i = 0; i < count; i++) {
    struct item *it = malloc(sizeof *it);
    if (!it) tlsf_sim_out_of_memory(sizeof *it);
    snprintf(it->name, sizeof it->name, "item-%d", i);
    it->next = list;
    list = it;
  }
  int freed = 0;
  while (list) {
    struct item *next = list->next;
    TLSF_SIM_ASSERT(strncmp(list->name, "item-", 5) == 0);
    free(list);
    list = next;
    freed++;
  }
  printf("built and freed %d items\n", freed);
  return 0;
}

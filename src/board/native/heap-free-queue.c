/*
 * The firmware's free() without a JavaScript call (docs/board.md, "The heap call's cost"): called by the board's
 * block hook (block-hook.c) on the service page's free slot, it checks the pointer against the board's block
 * table and appends it to a queue the heap service applies, in order, before its next call (free-queue.ts is the
 * JavaScript side). Whatever it cannot decide alone (a pointer that is not a live block, a full queue, SP below
 * the stack's limit) it leaves to the JavaScript path: it stops the emulator before the slot's first instruction
 * and raises a flag the run loop reads, so faults keep the words and the place they have without it.
 */
#include "native-hooks.h"

/* The block table's record layout (block-table.ts): FIELDS words per 4-byte granule and the fields read here. */
enum {
  RECORD_WORDS = 7,
  RECORD_REQUESTED = 0,
  RECORD_USABLE = 1,
  RECORD_ALLOCATED_BY = 2,
  RECORD_FREED_BY = 3,
  RECORD_SITE = 6,
  GRANULE_SHIFT = 2
};
/* Register file indices (r0..r15). */
enum { REGISTER_SP = 13, REGISTER_LR = 14 };
/*
 * Shared with free-queue.ts: the words JavaScript reads and clears, and the heap service's call number as of its
 * last call (it keeps its count there), from which a queued free's own call number follows.
 */
enum { CONTROL_LENGTH = 0, CONTROL_STOPPED = 1, CONTROL_CALL_NUMBER = 2 };
/*
 * A queue entry: the pointer, lr, the caller argument, and the block's allocating call number, requested and usable
 * sizes and site (all 0 for NULL), so that applying it needs no block-table lookup.
 */
enum { ENTRY_WORDS = 8 };
enum { MAX_REGIONS = 16 };

struct heap_region {
  uint64_t base;
  uint64_t end;
  uint32_t *records;
};

struct free_queue {
  const uint32_t *registers;
  uint32_t *control;
  uint32_t *entries;
  uint32_t capacity;
  uint32_t stack_limit;
  uint32_t caller_register;
  uint32_t region_count;
  struct heap_region regions[MAX_REGIONS];
};

/* Bytes JavaScript allocates for one queue's state (it owns the memory, so nothing here needs freeing). */
TLSF_SIM_EXPORT uint32_t tlsf_sim_free_queue_state_size(void) { return (uint32_t)sizeof(struct free_queue); }

/* 0 on success; -1 for a bad argument. All pointers stay owned by JavaScript and must outlive the engine. */
TLSF_SIM_EXPORT int tlsf_sim_free_queue_init(void *state, const uint32_t *registers, uint32_t *control,
                                             uint32_t *entries, uint32_t capacity, uint32_t stack_limit,
                                             uint32_t caller_register) {
  if (state == NULL || registers == NULL || control == NULL || entries == NULL || capacity == 0) return -1;
  if (caller_register > 12) return -1;
  struct free_queue *queue = state;
  queue->registers = registers;
  queue->control = control;
  queue->entries = entries;
  queue->capacity = capacity;
  queue->stack_limit = stack_limit;
  queue->caller_register = caller_register;
  queue->region_count = 0;
  return 0;
}

/* A heap region [base, base + size) and its block-table records; -1 when there are too many. */
TLSF_SIM_EXPORT int tlsf_sim_free_queue_add_region(void *state, uint32_t base, uint32_t size, uint32_t *records) {
  struct free_queue *queue = state;
  if (queue->region_count == MAX_REGIONS || records == NULL) return -1;
  struct heap_region *region = &queue->regions[queue->region_count++];
  region->base = base;
  region->end = (uint64_t)base + size;
  region->records = records;
  return 0;
}

/* The block-table record of the live block at `pointer`, or NULL (misaligned, outside the heap, not live). */
static uint32_t *live_record(const struct free_queue *queue, uint32_t pointer) {
  if ((pointer & 3) != 0) return NULL;
  for (uint32_t i = 0; i < queue->region_count; i++) {
    const struct heap_region *region = &queue->regions[i];
    if (pointer >= region->base && pointer < region->end) {
      uint32_t *record = region->records + ((pointer - region->base) >> GRANULE_SHIFT) * RECORD_WORDS;
      return record[RECORD_ALLOCATED_BY] != 0 ? record : NULL;
    }
  }
  return NULL;
}

int tlsf_sim_serve_free(uc_engine *uc, struct free_queue *queue) {
  const uint32_t *registers = queue->registers;
  uint32_t *control = queue->control;
  uint32_t length = control[CONTROL_LENGTH];
  if (length < queue->capacity && registers[REGISTER_SP] >= queue->stack_limit) {
    uint32_t pointer = registers[0];
    uint32_t *record = pointer == 0 ? NULL : live_record(queue, pointer);
    if (pointer == 0 || record != NULL) {
      uint32_t *entry = queue->entries + (size_t)length * ENTRY_WORDS;
      entry[0] = pointer;
      entry[1] = registers[REGISTER_LR];
      entry[2] = registers[queue->caller_register];
      entry[3] = 0;
      entry[4] = 0;
      entry[5] = 0;
      entry[6] = 0;
      if (record != NULL) {
        /* No longer live: a second free of it is left to the JavaScript path, which reports the double free. */
        entry[3] = record[RECORD_ALLOCATED_BY];
        entry[4] = record[RECORD_REQUESTED];
        entry[5] = record[RECORD_USABLE];
        entry[6] = record[RECORD_SITE];
        record[RECORD_ALLOCATED_BY] = 0;
        /* The frees queued before this one are numbered ahead of it (free(NULL) too). */
        record[RECORD_FREED_BY] = control[CONTROL_CALL_NUMBER] + length + 1;
      }
      control[CONTROL_LENGTH] = length + 1;
      return 0;
    }
  }
  /* Stopping inside a block hook ends the run before the block's first instruction, with the PC on the slot. */
  control[CONTROL_STOPPED] = 1;
  unicorn.emu_stop(uc);
  return 1;
}

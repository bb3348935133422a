/*
 * trace-player: replays an allocation trace (CS:APP malloc-lab .rep: `a id size`, `f id`,
 * `r id size`) on the device, writing a pattern into every block it allocates and verifying it
 * when the block is freed or reallocated (realloc must carry the old contents over).
 *
 * The trace comes from flash: the host (`tlsf-sim run my.rep`) encodes it and writes it into the
 * trace area __tlsf_trace_start..__tlsf_trace_end (the flash the image leaves free) before the run.
 * If that area holds no trace, the built-in default (traces/default.rep, an MQTT-style client
 * session) is replayed. Encoding (docs/design.md section 6): a 4-word header (magic "TRC1",
 * operation count, slot count, table address) then two little-endian words per operation:
 * (kind << 28 | slot) with kind 0 = alloc, 1 = free, 2 = realloc, and the size.
 *
 * The player's own table (12 bytes per slot: address, size, pattern tag) is never in the heap, so
 * the run's heap figures are the trace's alone. The host renumbers trace ids into slots (one per id
 * live at once) and reserves RAM for the table outside the heap, below the stack; its address is
 * header word 3. With word 3 = 0 (the built-in trace, or a trace encoded without a table) the
 * player uses a static table, which holds BUILTIN_TABLE_SLOTS slots.
 */
#include <stdlib.h>
#include <string.h>

#include "common.h"
#include "default-trace.h"

TLSF_SIM_PARAM(repeat, 1);         /* replays of the whole trace */
TLSF_SIM_PARAM(verify, 1);         /* 0: skip pattern fill/verify (faster on big traces) */
TLSF_SIM_PARAM(tolerate_oom, 0);   /* 1: a failed allocation is counted and the op skipped */

#define TRACE_MAGIC 0x31435254u
enum { TRACE_HEADER_WORDS = 4, OP_ALLOC = 0, OP_FREE = 1, OP_REALLOC = 2 };

#ifndef TLSF_SIM_HOST
extern const uint32_t __tlsf_trace_start[];
extern const uint32_t __tlsf_trace_end[];
#endif

typedef struct {
  uint8_t *block;
  uint32_t size, tag;
} slot_t;

/* The built-in trace's ids (traces/default.rep's header); a flash trace brings its own table. */
#define BUILTIN_TABLE_SLOTS 145u
static slot_t builtin_table[BUILTIN_TABLE_SLOTS];

/* The table for `slot_count` slots: the host's (outside the heap) or the static one. */
static slot_t *find_table(uint32_t table_address, uint32_t slot_count) {
  if (table_address == 0) {
    if (slot_count > BUILTIN_TABLE_SLOTS) {
      tlsf_sim_printf("trace-player: %lu slots and no table address in the trace header; the static table holds %lu\n",
                      (unsigned long)slot_count, (unsigned long)BUILTIN_TABLE_SLOTS);
      TLSF_SIM_ASSERT(!"trace slots fit the static table");
    }
    return builtin_table;
  }
  /* A table inside the heap would be overwritten by the blocks the trace allocates there. */
  tlsf_sim_heap_info_t info;
  tlsf_sim_heap_info(&info);
  uint32_t table_end = table_address + slot_count * (uint32_t)sizeof(slot_t);
  if ((table_address & 3u) != 0 || (table_end > info.heap_base && table_address < info.heap_base + info.heap_size)) {
    tlsf_sim_printf("trace-player: the table at 0x%08lx (%lu slots) is misaligned or inside the heap 0x%08lx+%lu\n",
                    (unsigned long)table_address, (unsigned long)slot_count, (unsigned long)info.heap_base,
                    (unsigned long)info.heap_size);
    TLSF_SIM_ASSERT(!"trace table outside the heap");
  }
  slot_t *table = (slot_t *)(uintptr_t)table_address;
  memset(table, 0, slot_count * sizeof *table);
  return table;
}

static const uint32_t *find_trace(uint32_t *capacity_words, int *from_flash) {
#ifndef TLSF_SIM_HOST
  const volatile uint32_t *area = (const volatile uint32_t *)__tlsf_trace_start;
  uint32_t words = (uint32_t)(__tlsf_trace_end - __tlsf_trace_start);
  if (words >= TRACE_HEADER_WORDS && area[0] == TRACE_MAGIC) {
    *capacity_words = words;
    *from_flash = 1;
    return (const uint32_t *)__tlsf_trace_start;
  }
#endif
  *capacity_words = (uint32_t)(sizeof default_trace / sizeof default_trace[0]);
  *from_flash = 0;
  return default_trace;
}

int main(void) {
  int32_t repeat = param_clamp(TLSF_SIM_PARAM_GET(repeat), 1, 1000000);
  int verify = TLSF_SIM_PARAM_GET(verify) != 0;
  int tolerate = TLSF_SIM_PARAM_GET(tolerate_oom) != 0;

  uint32_t capacity_words;
  int from_flash;
  const volatile uint32_t *trace = find_trace(&capacity_words, &from_flash);
  uint32_t op_count = trace[1], id_count = trace[2], table_address = trace[3];
  if (op_count > (capacity_words - TRACE_HEADER_WORDS) / 2u) {
    tlsf_sim_printf("trace-player: the trace header claims %lu operations, the trace area holds at most %lu\n",
                    (unsigned long)op_count, (unsigned long)((capacity_words - TRACE_HEADER_WORDS) / 2u));
    TLSF_SIM_ASSERT(!"trace fits its area");
  }
  slot_t *slots = find_table(table_address, id_count);
  tlsf_sim_printf("trace-player: %s trace, %lu operations, %lu table slots, %ld replay(s); table of %lu bytes at 0x%08lx\n",
                  from_flash ? "flash" : "built-in", (unsigned long)op_count, (unsigned long)id_count, (long)repeat,
                  (unsigned long)(id_count * sizeof *slots), (unsigned long)(uintptr_t)slots);

  uint32_t failed = 0, done_ops = 0;
  for (int32_t pass = 0; pass < repeat; pass++) {
    for (uint32_t index = 0; index < op_count; index++) {
      uint32_t word = trace[TRACE_HEADER_WORDS + 2u * index];
      uint32_t size = trace[TRACE_HEADER_WORDS + 2u * index + 1u];
      uint32_t kind = word >> 28, id = word & 0x0FFFFFFFu;
      if (id >= id_count || kind > OP_REALLOC) {
        tlsf_sim_printf("trace-player: operation %lu is malformed (kind %lu, id %lu of %lu)\n", (unsigned long)index,
                        (unsigned long)kind, (unsigned long)id, (unsigned long)id_count);
        TLSF_SIM_ASSERT(!"trace operation well formed");
      }
      slot_t *slot = &slots[id];
      if (kind == OP_ALLOC) {
        /* malloc-lab traces never allocate a live id; if one does, the old block is leaked as a program would. */
        uint8_t *block = (uint8_t *)malloc(size);
        if (!block && size != 0) {
          if (!tolerate) tlsf_sim_out_of_memory(size);
          failed++;
          continue;
        }
        slot->block = block;
        slot->size = block ? size : 0;
        slot->tag = next_tag();
        if (verify && block) pattern_fill(block, 0, size, slot->tag);
      } else if (kind == OP_FREE) {
        if (slot->block && verify) pattern_verify(slot->block, 0, slot->size, slot->tag);
        free(slot->block);
        slot->block = NULL;
        slot->size = 0;
      } else {
        uint8_t *block = (uint8_t *)realloc(slot->block, size);
        if (!block && size != 0) {
          if (!tolerate) tlsf_sim_out_of_memory(size);
          failed++;
          continue;
        }
        uint32_t kept = slot->size < size ? slot->size : size;
        if (verify && block) {
          pattern_verify(block, 0, kept, slot->tag);
          pattern_fill(block, kept, size, slot->tag);
        }
        slot->block = block;
        slot->size = block ? size : 0;
      }
      done_ops++;
      if ((done_ops & 0x3FFFu) == 0) tlsf_sim_printf("  %lu operations replayed\n", (unsigned long)done_ops);
    }
    if (pass == 0) report_heap("first replay done");
    /* Whatever the trace left allocated is freed between replays (and at the end). */
    for (uint32_t id = 0; id < id_count; id++) {
      if (!slots[id].block) continue;
      if (verify) pattern_verify(slots[id].block, 0, slots[id].size, slots[id].tag);
      free(slots[id].block);
      slots[id].block = NULL;
      slots[id].size = 0;
    }
  }
  report_heap("end");
  tlsf_sim_printf("trace-player: %lu operations replayed, %lu failed\n", (unsigned long)done_ops, (unsigned long)failed);
  return 0;
}

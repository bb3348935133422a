/*
 * sensor-logger: a long-running data logger (an environmental sensor node). Every tick a sample
 * record arrives (timestamp plus 2-8 channel readings, 24-48 bytes) and joins a ring of the most
 * recent records; when the ring is full the oldest is freed. Every `batch_period` ticks the
 * records since the last batch are encoded into a batch buffer of variable size (the encoder's
 * output depends on the data, as with CBOR or delta compression) that stays in flight until the
 * uplink acknowledges it a few ticks later; up to `max_in_flight` batches wait (radio retries).
 * Occasional event log lines (20-120 bytes) live until the next batch carries them away.
 * The mix models a LoRaWAN / NB-IoT logger: small fixed records, bursty medium buffers.
 */
#include <stdlib.h>
#include <string.h>

#include "common.h"

TLSF_SIM_PARAM(ticks, 2000);         /* samples to log */
TLSF_SIM_PARAM(ring, 48);            /* records kept */
TLSF_SIM_PARAM(batch_period, 40);    /* ticks between batches */
TLSF_SIM_PARAM(max_in_flight, 3);    /* batches awaiting acknowledgement */
TLSF_SIM_PARAM(event_pct, 5);        /* chance per tick, in percent, of an event log line */
TLSF_SIM_PARAM(seed, 5);

enum { MAX_RING = 512, MAX_IN_FLIGHT = 16, MAX_EVENTS = 16 };

typedef struct {
  uint8_t *block;
  uint32_t size, tag, due;
} held_t;

static held_t *ring_records;
static held_t batches[MAX_IN_FLIGHT];
static held_t events[MAX_EVENTS];
static int batch_count, event_count;

static held_t hold(uint32_t size) {
  held_t held;
  held.block = (uint8_t *)xmalloc(size);
  held.size = size;
  held.tag = next_tag();
  held.due = 0;
  pattern_fill(held.block, 0, size, held.tag);
  return held;
}

static void release(held_t *held) {
  pattern_verify(held->block, 0, held->size, held->tag);
  free(held->block);
  held->block = NULL;
}

int main(void) {
  int32_t ticks = param_clamp(TLSF_SIM_PARAM_GET(ticks), 1, 100000000);
  uint32_t ring = (uint32_t)param_clamp(TLSF_SIM_PARAM_GET(ring), 1, MAX_RING);
  uint32_t batch_period = (uint32_t)param_clamp(TLSF_SIM_PARAM_GET(batch_period), 1, 100000);
  int max_in_flight = (int)param_clamp(TLSF_SIM_PARAM_GET(max_in_flight), 1, MAX_IN_FLIGHT);
  uint32_t event_pct = (uint32_t)param_clamp(TLSF_SIM_PARAM_GET(event_pct), 0, 100);
  rng_t rng;
  rng_seed(&rng, (uint32_t)TLSF_SIM_PARAM_GET(seed));
  tlsf_sim_printf("sensor-logger: %ld ticks, ring of %lu records, a batch every %lu ticks\n", (long)ticks,
                  (unsigned long)ring, (unsigned long)batch_period);

  ring_records = (held_t *)xcalloc(ring, sizeof *ring_records);
  uint32_t head = 0, count = 0, since_batch = 0;
  uint32_t batches_sent = 0, retries = 0, events_logged = 0;

  for (uint32_t tick = 0; tick < (uint32_t)ticks; tick++) {
    /* A new sample. */
    if (count == ring) {
      release(&ring_records[head]);
      head = (head + 1) % ring;
      count--;
    }
    uint32_t channels = rng_range(&rng, 2, 8);
    ring_records[(head + count) % ring] = hold(16u + 4u * channels);
    count++;
    since_batch++;

    if (event_count < MAX_EVENTS && rng_range(&rng, 0, 99) < event_pct) {
      events[event_count++] = hold(rng_range(&rng, 20, 120));
      events_logged++;
    }

    /* Acknowledgements: the oldest batch in flight leaves when due; a lost ack means a retry later. */
    if (batch_count > 0 && batches[0].due <= tick) {
      if (rng_range(&rng, 0, 9) == 0) {
        batches[0].due = tick + rng_range(&rng, 2, 8);
        retries++;
      } else {
        release(&batches[0]);
        for (int i = 1; i < batch_count; i++) batches[i - 1] = batches[i];
        batch_count--;
      }
    }

    if (since_batch >= batch_period) {
      if (batch_count == max_in_flight) {
        /* Uplink backlog: the oldest unacknowledged batch is abandoned. */
        release(&batches[0]);
        for (int i = 1; i < batch_count; i++) batches[i - 1] = batches[i];
        batch_count--;
      }
      /* Encoded size varies with the data: 6-40 bytes per record, plus events and a header. */
      uint32_t records = since_batch < count ? since_batch : count;
      uint32_t size = 24;
      for (uint32_t r = 0; r < records; r++) {
        const held_t *record = &ring_records[(head + count - 1u - r) % ring];
        pattern_verify(record->block, 0, record->size, record->tag);
        size += rng_range(&rng, 6, 40);
      }
      for (int e = 0; e < event_count; e++) size += events[e].size;
      held_t batch = hold(size);
      batch.due = tick + rng_range(&rng, 3, 15);
      batches[batch_count++] = batch;
      batches_sent++;
      while (event_count > 0) release(&events[--event_count]);
      since_batch = 0;
    }
    if ((tick + 1) % 500 == 0) report_heap("tick");
  }

  while (count > 0) {
    release(&ring_records[head]);
    head = (head + 1) % ring;
    count--;
  }
  free(ring_records);
  while (batch_count > 0) release(&batches[--batch_count]);
  while (event_count > 0) release(&events[--event_count]);
  report_heap("end");
  tlsf_sim_printf("sensor-logger: %ld samples, %lu batches, %lu retries, %lu events\n", (long)ticks,
                  (unsigned long)batches_sent, (unsigned long)retries, (unsigned long)events_logged);
  return 0;
}

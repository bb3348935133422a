/*
 * packet-pool: the receive and transmit buffers of a small TCP/IP stack (lwIP-style PBUF_RAM
 * packets: one block holding a 16-byte pbuf header and the frame).
 *
 * Frames arrive in bursts (an Ethernet DMA ring handing over several frames per interrupt),
 * with sizes from the classic IMIX mix (64, 576 and 1500-byte IP packets in a 7:4:1 ratio) plus
 * the 14-byte Ethernet header, capped at the 1536-byte buffer Ethernet drivers use
 * (ETH_MAX_PACKET_SIZE on STM32). Received packets wait in a bounded queue (lwIP's tcpip mbox)
 * and the application consumes them out of order, as TCP reassembly does; a third of them
 * trigger a reply that waits in a transmit queue until it is "acknowledged" a few bursts later.
 */
#include <stdlib.h>

#include "common.h"

TLSF_SIM_PARAM(bursts, 300);        /* receive bursts to simulate */
TLSF_SIM_PARAM(burst_max, 6);       /* frames per burst: 1..burst_max */
TLSF_SIM_PARAM(rx_queue, 12);       /* receive queue depth (lwIP TCPIP_MBOX_SIZE-like) */
TLSF_SIM_PARAM(tx_queue, 6);        /* replies in flight awaiting acknowledgement */
TLSF_SIM_PARAM(max_frame, 1536);    /* largest buffer, header included */
TLSF_SIM_PARAM(drop_on_oom, 0);     /* 1: drop a frame when the heap is full, as a stack would */
TLSF_SIM_PARAM(seed, 1);

enum { PBUF_HEADER = 16, ETH_HEADER = 14, MAX_QUEUE = 64 };

typedef struct {
  uint8_t *block;
  uint32_t size;
  uint32_t tag;
  uint32_t due; /* transmit queue: burst after which the reply is acknowledged */
} packet_t;

/* The queues themselves live on the heap, as lwIP's sys_mbox_new allocates its mailbox. */
static packet_t *rx;
static packet_t *tx;
static int rx_count, tx_count;
static uint32_t dropped, received, sent;

static uint32_t imix_size(rng_t *rng, uint32_t max_frame) {
  uint32_t pick = rng_range(rng, 0, 11);
  uint32_t ip = pick < 7 ? 64 : pick < 11 ? 576 : 1500;
  /* A little jitter so sizes are not just three values (options, padding, VLAN tags). */
  ip += rng_range(rng, 0, 24);
  uint32_t size = PBUF_HEADER + ETH_HEADER + ip;
  return size > max_frame ? max_frame : size;
}

static int packet_alloc(packet_t *packet, uint32_t size, int tolerate) {
  packet->block = (uint8_t *)malloc(size);
  if (!packet->block) {
    if (!tolerate) tlsf_sim_out_of_memory(size);
    dropped++;
    return 0;
  }
  packet->size = size;
  packet->tag = next_tag();
  pattern_fill(packet->block, 0, size, packet->tag);
  return 1;
}

static void packet_release(packet_t *packet) {
  pattern_verify(packet->block, 0, packet->size, packet->tag);
  free(packet->block);
  packet->block = NULL;
}

/* Consumes one received packet chosen at random (out-of-order release). */
static void consume_one(rng_t *rng, int tx_limit, uint32_t max_frame, uint32_t burst, int tolerate) {
  int index = (int)rng_range(rng, 0, (uint32_t)rx_count - 1u);
  packet_t packet = rx[index];
  rx[index] = rx[--rx_count];
  int reply = rng_range(rng, 0, 2) == 0;
  packet_release(&packet);
  if (reply && tx_count < tx_limit) {
    if (packet_alloc(&tx[tx_count], imix_size(rng, max_frame), tolerate)) {
      tx[tx_count].due = burst + rng_range(rng, 1, 3);
      tx_count++;
      sent++;
    }
  }
}

int main(void) {
  int32_t bursts = param_clamp(TLSF_SIM_PARAM_GET(bursts), 1, 100000000);
  uint32_t burst_max = (uint32_t)param_clamp(TLSF_SIM_PARAM_GET(burst_max), 1, MAX_QUEUE);
  int rx_limit = (int)param_clamp(TLSF_SIM_PARAM_GET(rx_queue), 1, MAX_QUEUE);
  int tx_limit = (int)param_clamp(TLSF_SIM_PARAM_GET(tx_queue), 0, MAX_QUEUE);
  uint32_t max_frame = (uint32_t)param_clamp(TLSF_SIM_PARAM_GET(max_frame), PBUF_HEADER + ETH_HEADER + 64, 65536);
  int tolerate = TLSF_SIM_PARAM_GET(drop_on_oom) != 0;
  rng_t rng;
  rng_seed(&rng, (uint32_t)TLSF_SIM_PARAM_GET(seed));

  rx = (packet_t *)xcalloc((size_t)rx_limit, sizeof *rx);
  tx = (packet_t *)xcalloc((size_t)tx_limit + 1u, sizeof *tx);
  tlsf_sim_printf("packet-pool: %ld bursts of up to %lu frames, rx queue %d, tx queue %d\n", (long)bursts,
                  (unsigned long)burst_max, rx_limit, tx_limit);
  report_heap("start");

  for (uint32_t burst = 0; burst < (uint32_t)bursts; burst++) {
    uint32_t frames = rng_range(&rng, 1, burst_max);
    for (uint32_t i = 0; i < frames; i++) {
      /* A full mailbox makes the application catch up before the driver can hand over more. */
      if (rx_count == rx_limit) consume_one(&rng, tx_limit, max_frame, burst, tolerate);
      if (packet_alloc(&rx[rx_count], imix_size(&rng, max_frame), tolerate)) {
        rx_count++;
        received++;
      }
    }
    /* The application runs between interrupts and takes a few frames, in any order. */
    uint32_t take = rng_range(&rng, 0, frames + 1);
    while (take-- > 0 && rx_count > 0) consume_one(&rng, tx_limit, max_frame, burst, tolerate);
    /* Acknowledged replies leave the transmit queue in order. */
    while (tx_count > 0 && tx[0].due <= burst) {
      packet_release(&tx[0]);
      for (int i = 1; i < tx_count; i++) tx[i - 1] = tx[i];
      tx_count--;
    }
    if ((burst + 1) % 100 == 0) {
      tlsf_sim_printf("burst %lu: rx queued %d, tx in flight %d\n", (unsigned long)(burst + 1), rx_count, tx_count);
    }
  }

  while (rx_count > 0) packet_release(&rx[--rx_count]);
  while (tx_count > 0) packet_release(&tx[--tx_count]);
  free(rx);
  free(tx);
  report_heap("end");
  tlsf_sim_printf("packet-pool: %lu frames received, %lu replies sent, %lu dropped\n", (unsigned long)received,
                  (unsigned long)sent, (unsigned long)dropped);
  return 0;
}

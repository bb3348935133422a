/*
 * tls-handshake: the allocation shape of a TLS 1.2 client handshake in an embedded TLS library
 * (modelled on mbedTLS with its default configuration). mbedtls_ssl_setup allocates the input
 * and output record buffers, each MBEDTLS_SSL_IN/OUT_CONTENT_LEN (16384 by default) plus the
 * record overhead (13-byte header, up to 16 bytes of explicit IV, 48 of MAC, 256 of CBC padding:
 * 333 bytes here). The handshake then adds its parameters (running hashes, ECDH context), parses
 * the server's certificate chain (a DER copy and an x509 structure per certificate, many small
 * name and extension nodes), and does public-key arithmetic with many short-lived bignums
 * (mbedtls_mpi limb arrays: 32 bytes for P-256 coordinates, 256 for an RSA-2048 modulus, grown
 * by realloc-like calloc/copy/free). Heap use peaks during the signature check, then falls when
 * the handshake structures are freed, leaving the record buffers and the session for the
 * application data that follows; closing the connection frees the rest.
 */
#include <stdlib.h>
#include <string.h>

#include "common.h"

TLSF_SIM_PARAM(handshakes, 3);       /* connections: handshake, a few records, close */
TLSF_SIM_PARAM(record_len, 16384);   /* MBEDTLS_SSL_IN/OUT_CONTENT_LEN */
TLSF_SIM_PARAM(cert_chain, 2);       /* certificates the server sends (leaf + intermediate) */
TLSF_SIM_PARAM(cert_size, 1200);     /* DER bytes per certificate (typical RSA-2048 certs: 1-1.5 KiB) */
TLSF_SIM_PARAM(rsa_bits, 2048);      /* server key size: sets the large bignum size */
TLSF_SIM_PARAM(bignum_ops, 400);     /* bignum allocations per handshake (ECDHE + RSA verify) */
TLSF_SIM_PARAM(app_records, 4);      /* application records per connection */
TLSF_SIM_PARAM(seed, 11);

enum { RECORD_OVERHEAD = 333, SSL_CONTEXT = 360, SSL_SESSION = 128, HANDSHAKE_PARAMS = 1480,
       TRANSFORM = 640, X509_CRT = 560, NAMED_DATA = 28, MAX_CERTS = 4, MAX_LIVE_BIGNUMS = 40,
       MAX_NODES_PER_CERT = 24 };

typedef struct {
  uint8_t *block;
  uint32_t size, tag;
} held_t;

static held_t hold(uint32_t size) {
  held_t held;
  held.block = (uint8_t *)xmalloc(size);
  held.size = size;
  held.tag = next_tag();
  pattern_fill(held.block, 0, size, held.tag);
  return held;
}

static void release(held_t *held) {
  if (!held->block) return;
  pattern_verify(held->block, 0, held->size, held->tag);
  free(held->block);
  held->block = NULL;
}

typedef struct {
  held_t der, crt;
  held_t nodes[MAX_NODES_PER_CERT];
  int node_count;
} certificate_t;

static uint32_t peak_in_handshake;

static void note_peak(void) {
  tlsf_sim_heap_info_t info;
  tlsf_sim_heap_info(&info);
  if (info.used > peak_in_handshake) peak_in_handshake = info.used;
}

/* A public-key operation: a stack of bignum temporaries, each grown once or twice as mbedtls_mpi_grow does. */
static void bignum_work(rng_t *rng, uint32_t ops, uint32_t big_limbs_bytes) {
  held_t live[MAX_LIVE_BIGNUMS];
  int live_count = 0;
  for (uint32_t op = 0; op < ops; op++) {
    uint32_t action = rng_range(rng, 0, 9);
    if (live_count > 0 && (action < 4 || live_count == MAX_LIVE_BIGNUMS)) {
      /* Temporaries die mostly in LIFO order, sometimes out of order. */
      int index = action == 0 ? (int)rng_range(rng, 0, (uint32_t)live_count - 1u) : live_count - 1;
      release(&live[index]);
      live[index] = live[--live_count];
    } else if (live_count > 0 && action < 6) {
      /* Grow: allocate the larger limb array, copy, free the old one. */
      held_t *grown = &live[rng_range(rng, 0, (uint32_t)live_count - 1u)];
      uint32_t size = grown->size + 4u * rng_range(rng, 1, 9);
      held_t larger = hold(size);
      pattern_verify(grown->block, 0, grown->size, grown->tag);
      release(grown);
      *grown = larger;
    } else {
      /* ECC coordinates (8 limbs + slack) are the common case; RSA-sized values the rare one. */
      uint32_t size = rng_range(rng, 0, 7) == 0 ? big_limbs_bytes + 4u * rng_range(rng, 0, 2)
                                                 : 32u + 4u * rng_range(rng, 0, 10);
      live[live_count++] = hold(size);
    }
    if (op % 32 == 0) note_peak();
  }
  note_peak();
  while (live_count > 0) release(&live[--live_count]);
}

int main(void) {
  int32_t handshakes = param_clamp(TLSF_SIM_PARAM_GET(handshakes), 1, 1000000);
  uint32_t record_len = (uint32_t)param_clamp(TLSF_SIM_PARAM_GET(record_len), 512, 16384);
  int cert_chain = (int)param_clamp(TLSF_SIM_PARAM_GET(cert_chain), 1, MAX_CERTS);
  uint32_t cert_size = (uint32_t)param_clamp(TLSF_SIM_PARAM_GET(cert_size), 256, 8192);
  uint32_t rsa_bytes = (uint32_t)param_clamp(TLSF_SIM_PARAM_GET(rsa_bits), 512, 8192) / 8u;
  uint32_t bignum_ops = (uint32_t)param_clamp(TLSF_SIM_PARAM_GET(bignum_ops), 0, 1000000);
  uint32_t app_records = (uint32_t)param_clamp(TLSF_SIM_PARAM_GET(app_records), 0, 1000000);
  rng_t rng;
  rng_seed(&rng, (uint32_t)TLSF_SIM_PARAM_GET(seed));
  tlsf_sim_printf("tls-handshake: %ld connections, %lu-byte records, %d certificates, RSA-%lu\n", (long)handshakes,
                  (unsigned long)record_len, cert_chain, (unsigned long)rsa_bytes * 8u);

  for (int32_t connection = 0; connection < handshakes; connection++) {
    /* mbedtls_ssl_setup */
    held_t ssl = hold(SSL_CONTEXT);
    held_t in_buf = hold(record_len + RECORD_OVERHEAD);
    held_t out_buf = hold(record_len + RECORD_OVERHEAD);

    /* Handshake start: parameters, a fresh session, the pending transform. */
    held_t handshake = hold(HANDSHAKE_PARAMS);
    held_t session = hold(SSL_SESSION);
    held_t transform = hold(TRANSFORM);

    /* Certificate message: parse each certificate of the chain. */
    /* The chain's bookkeeping is a heap block too, like mbedtls_x509_crt's linked list. */
    certificate_t *chain = (certificate_t *)xcalloc((size_t)cert_chain, sizeof *chain);
    for (int c = 0; c < cert_chain; c++) {
      certificate_t *cert = &chain[c];
      cert->crt = hold(X509_CRT);
      cert->der = hold(cert_size + rng_range(&rng, 0, cert_size / 4u));
      /* Issuer and subject names (about 6 attributes each), extensions, subjectAltName entries. */
      cert->node_count = (int)rng_range(&rng, 12, MAX_NODES_PER_CERT);
      for (int n = 0; n < cert->node_count; n++) cert->nodes[n] = hold(NAMED_DATA + 4u * rng_range(&rng, 0, 3));
    }
    /* The leaf's public key: RSA context with modulus and exponent limbs. */
    held_t public_key = hold(rsa_bytes + 8u);
    note_peak();

    /* ServerKeyExchange: ECDHE (P-256) and the RSA signature check over it. */
    tlsf_sim_mark("key exchange");
    bignum_work(&rng, bignum_ops, rsa_bytes);
    if (connection == 0) report_heap("handshake peak");

    /* Finished: the handshake structures go; the verified peer certificate is dropped too
       (MBEDTLS_SSL_KEEP_PEER_CERTIFICATE disabled, as constrained builds do). */
    release(&public_key);
    for (int c = cert_chain - 1; c >= 0; c--) {
      for (int n = chain[c].node_count - 1; n >= 0; n--) release(&chain[c].nodes[n]);
      release(&chain[c].der);
      release(&chain[c].crt);
    }
    free(chain);
    release(&handshake);
    if (connection == 0) report_heap("handshake done");

    /* Application data: records through the buffers, each a fresh fill and a verified read. */
    for (uint32_t r = 0; r < app_records; r++) {
      uint32_t length = rng_range(&rng, 64, record_len);
      uint32_t tag = next_tag();
      pattern_fill(out_buf.block, 0, length, tag);
      memcpy(in_buf.block, out_buf.block, length);
      pattern_verify(in_buf.block, 0, length, tag);
      pattern_fill(in_buf.block, 0, in_buf.size, in_buf.tag);
      pattern_fill(out_buf.block, 0, out_buf.size, out_buf.tag);
    }

    /* mbedtls_ssl_free */
    release(&transform);
    release(&session);
    release(&out_buf);
    release(&in_buf);
    release(&ssl);
  }
  report_heap("end");
  tlsf_sim_printf("tls-handshake: %ld connections done, heap peak during handshakes %lu bytes\n", (long)handshakes,
                  (unsigned long)peak_in_handshake);
  return 0;
}

/*
 * json-doc: a device building, parsing and printing JSON documents the way cJSON does - one
 * node per value (40 bytes: sizeof(cJSON) on 32-bit Arm, with its double), a separate block for
 * every key and string value, and a print buffer that starts at 256 bytes and doubles
 * (cJSON's print_buffer / ensure()). Many 16-64-byte blocks with tree-shaped lifetimes.
 *
 * Each document (a telemetry/config payload: scalars, arrays of readings, nested objects) is
 * generated as text, parsed into a tree, printed back, compared byte for byte with the original
 * (which checks every node and string block), then freed. The first document is printed with
 * newlib's printf, whose stdout buffer comes from the TLSF heap too.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"

TLSF_SIM_PARAM(docs, 10);      /* documents to build, parse, print and free */
TLSF_SIM_PARAM(items, 12);     /* array elements per array */
TLSF_SIM_PARAM(depth, 3);      /* nesting depth of objects */
TLSF_SIM_PARAM(print_first, 1);
TLSF_SIM_PARAM(seed, 3);

enum { JSON_NULL, JSON_NUMBER, JSON_STRING, JSON_ARRAY, JSON_OBJECT, JSON_TRUE, JSON_FALSE };

/* The layout of cJSON's node, so blocks have its size (40 bytes with 8-byte double alignment). */
typedef struct json_node {
  struct json_node *next, *prev, *child;
  int type;
  char *value_string;
  int value_int;
  double value_double;
  char *key;
} json_node_t;

/* --- text buffer with cJSON's growth policy ---------------------------------------------------- */
typedef struct {
  char *text;
  size_t length, capacity;
} text_t;

static void text_init(text_t *t) {
  t->capacity = 256;
  t->length = 0;
  t->text = (char *)xmalloc(t->capacity);
  t->text[0] = 0;
}

static void text_reserve(text_t *t, size_t extra) {
  if (t->length + extra + 1 <= t->capacity) return;
  size_t capacity = t->capacity;
  while (t->length + extra + 1 > capacity) capacity *= 2;
  t->text = (char *)xrealloc(t->text, capacity);
  t->capacity = capacity;
}

static void text_append(text_t *t, const char *s, size_t n) {
  text_reserve(t, n);
  memcpy(t->text + t->length, s, n);
  t->length += n;
  t->text[t->length] = 0;
}

static void text_puts(text_t *t, const char *s) { text_append(t, s, strlen(s)); }

static void text_int(text_t *t, long value) {
  char digits[16];
  int n = 0;
  unsigned long magnitude = value < 0 ? 0ul - (unsigned long)value : (unsigned long)value;
  do {
    digits[n++] = (char)('0' + magnitude % 10);
    magnitude /= 10;
  } while (magnitude);
  if (value < 0) text_append(t, "-", 1);
  while (n > 0) text_append(t, &digits[--n], 1);
}

/* --- document generator -------------------------------------------------------------------------- */
static const char *const words[] = {"temp", "humidity", "pressure", "battery", "rssi", "uptime", "status",
                                    "sensor", "gateway", "firmware", "channel", "interval", "threshold",
                                    "calibration", "location", "alarm", "enabled", "name", "id", "unit"};
#define WORD_COUNT (sizeof words / sizeof words[0])

static void generate_string(text_t *t, rng_t *rng) {
  text_append(t, "\"", 1);
  uint32_t parts = rng_range(rng, 1, 3);
  for (uint32_t i = 0; i < parts; i++) {
    if (i) text_append(t, "-", 1);
    text_puts(t, words[rng_range(rng, 0, WORD_COUNT - 1)]);
  }
  text_append(t, "\"", 1);
}

static void generate_value(text_t *t, rng_t *rng, int depth, uint32_t items);

static void generate_object(text_t *t, rng_t *rng, int depth, uint32_t items) {
  text_append(t, "{", 1);
  uint32_t members = rng_range(rng, 2, 6);
  for (uint32_t i = 0; i < members; i++) {
    if (i) text_append(t, ",", 1);
    text_append(t, "\"", 1);
    text_puts(t, words[rng_range(rng, 0, WORD_COUNT - 1)]);
    text_int(t, (long)i);
    text_append(t, "\":", 2);
    generate_value(t, rng, depth - 1, items);
  }
  text_append(t, "}", 1);
}

static void generate_value(text_t *t, rng_t *rng, int depth, uint32_t items) {
  uint32_t kind = rng_range(rng, 0, depth > 0 ? 9 : 5);
  if (kind <= 1) text_int(t, (long)rng_range(rng, 0, 200000) - 100000);
  else if (kind <= 3) generate_string(t, rng);
  else if (kind == 4) text_puts(t, rng_range(rng, 0, 1) ? "true" : "false");
  else if (kind == 5) text_puts(t, "null");
  else if (kind <= 7) {
    text_append(t, "[", 1);
    uint32_t count = rng_range(rng, 1, items);
    for (uint32_t i = 0; i < count; i++) {
      if (i) text_append(t, ",", 1);
      generate_value(t, rng, depth - 1, items);
    }
    text_append(t, "]", 1);
  } else generate_object(t, rng, depth, items);
}

/* --- parser (a subset of JSON: integers, plain strings, literals, arrays, objects) --------------- */
typedef struct {
  const char *at;
  uint32_t nodes, strings;
} parser_t;

static json_node_t *node_new(parser_t *p) {
  json_node_t *node = (json_node_t *)xcalloc(1, sizeof *node);
  p->nodes++;
  return node;
}

static char *parse_string_literal(parser_t *p) {
  TLSF_SIM_ASSERT(*p->at == '"');
  const char *start = ++p->at;
  while (*p->at != '"') {
    TLSF_SIM_ASSERT(*p->at != 0);
    p->at++;
  }
  size_t length = (size_t)(p->at - start);
  p->at++;
  char *copy = (char *)xmalloc(length + 1);
  memcpy(copy, start, length);
  copy[length] = 0;
  p->strings++;
  return copy;
}

static json_node_t *parse_value(parser_t *p);

static json_node_t *parse_container(parser_t *p, int type, char close) {
  json_node_t *node = node_new(p);
  node->type = type;
  p->at++;
  json_node_t *last = NULL;
  while (*p->at != close) {
    if (last) {
      TLSF_SIM_ASSERT(*p->at == ',');
      p->at++;
    }
    char *key = NULL;
    if (type == JSON_OBJECT) {
      key = parse_string_literal(p);
      TLSF_SIM_ASSERT(*p->at == ':');
      p->at++;
    }
    json_node_t *child = parse_value(p);
    child->key = key;
    child->prev = last;
    if (last) last->next = child;
    else node->child = child;
    last = child;
  }
  p->at++;
  return node;
}

static json_node_t *parse_value(parser_t *p) {
  char c = *p->at;
  if (c == '{') return parse_container(p, JSON_OBJECT, '}');
  if (c == '[') return parse_container(p, JSON_ARRAY, ']');
  json_node_t *node = node_new(p);
  if (c == '"') {
    node->type = JSON_STRING;
    node->value_string = parse_string_literal(p);
  } else if (strncmp(p->at, "true", 4) == 0) {
    node->type = JSON_TRUE;
    p->at += 4;
  } else if (strncmp(p->at, "false", 5) == 0) {
    node->type = JSON_FALSE;
    p->at += 5;
  } else if (strncmp(p->at, "null", 4) == 0) {
    node->type = JSON_NULL;
    p->at += 4;
  } else {
    node->type = JSON_NUMBER;
    int negative = *p->at == '-';
    if (negative) p->at++;
    TLSF_SIM_ASSERT(*p->at >= '0' && *p->at <= '9');
    long value = 0;
    while (*p->at >= '0' && *p->at <= '9') value = value * 10 + (*p->at++ - '0');
    node->value_int = (int)(negative ? -value : value);
    node->value_double = (double)node->value_int;
  }
  return node;
}

/* --- printer and release ------------------------------------------------------------------------- */
static void print_node(text_t *t, const json_node_t *node) {
  switch (node->type) {
    case JSON_NUMBER: text_int(t, node->value_int); break;
    case JSON_STRING:
      text_append(t, "\"", 1);
      text_puts(t, node->value_string);
      text_append(t, "\"", 1);
      break;
    case JSON_TRUE: text_puts(t, "true"); break;
    case JSON_FALSE: text_puts(t, "false"); break;
    case JSON_NULL: text_puts(t, "null"); break;
    default: {
      text_append(t, node->type == JSON_ARRAY ? "[" : "{", 1);
      for (const json_node_t *child = node->child; child; child = child->next) {
        if (child != node->child) text_append(t, ",", 1);
        if (node->type == JSON_OBJECT) {
          text_append(t, "\"", 1);
          text_puts(t, child->key);
          text_append(t, "\":", 2);
        }
        print_node(t, child);
      }
      text_append(t, node->type == JSON_ARRAY ? "]" : "}", 1);
    }
  }
}

static void node_delete(json_node_t *node) {
  while (node) {
    json_node_t *next = node->next;
    if (node->child) node_delete(node->child);
    free(node->value_string);
    free(node->key);
    free(node);
    node = next;
  }
}

int main(void) {
  int32_t docs = param_clamp(TLSF_SIM_PARAM_GET(docs), 1, 10000000);
  uint32_t items = (uint32_t)param_clamp(TLSF_SIM_PARAM_GET(items), 1, 1000);
  int depth = (int)param_clamp(TLSF_SIM_PARAM_GET(depth), 1, 12);
  rng_t rng;
  rng_seed(&rng, (uint32_t)TLSF_SIM_PARAM_GET(seed));
  tlsf_sim_printf("json-doc: %ld documents, arrays of up to %lu items, depth %d\n", (long)docs,
                  (unsigned long)items, depth);

  uint32_t total_nodes = 0, total_bytes = 0;
  for (int32_t doc = 0; doc < docs; doc++) {
    text_t source;
    text_init(&source);
    generate_object(&source, &rng, depth, items);

    parser_t parser = {source.text, 0, 0};
    json_node_t *root = parse_value(&parser);
    TLSF_SIM_ASSERT(*parser.at == 0);

    text_t printed;
    text_init(&printed);
    print_node(&printed, root);
    if (printed.length != source.length || memcmp(printed.text, source.text, source.length) != 0) {
      tlsf_sim_printf("document %ld: printed tree differs from the parsed text\n", (long)doc);
      TLSF_SIM_ASSERT(!"printed document equals its source");
    }
    if (doc == 0 && TLSF_SIM_PARAM_GET(print_first)) {
      printf("document 0 (%lu bytes, %lu nodes): %.200s%s\n", (unsigned long)printed.length,
             (unsigned long)parser.nodes, printed.text, printed.length > 200 ? "..." : "");
    }
    total_nodes += parser.nodes;
    total_bytes += (uint32_t)printed.length;
    if (doc == 0) report_heap("first tree built");

    free(source.text);
    node_delete(root);
    free(printed.text);
  }
  fflush(stdout);
  report_heap("end");
  tlsf_sim_printf("json-doc: %ld documents, %lu nodes, %lu bytes of JSON, all round-tripped\n", (long)docs,
                  (unsigned long)total_nodes, (unsigned long)total_bytes);
  return 0;
}

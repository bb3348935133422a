/*
 * rtos-queues: the heap traffic of a small RTOS application (FreeRTOS with heap_4-style dynamic
 * allocation). Creating a task allocates its stack and its task control block (two blocks, as
 * xTaskCreate does); creating a queue allocates one block holding the queue structure and its
 * item storage (as xQueueCreate does). Tasks pass heap-allocated messages to each other by
 * pointer through the queues; tasks are deleted and recreated as the application changes mode,
 * and, as in FreeRTOS, a deleted task's memory is released later by the idle task.
 *
 * Sizes: TCB 96 bytes (sizeof(TCB_t) on 32-bit Arm with a 16-character name, about 84-100),
 * stacks of 128-256 words by default (configMINIMAL_STACK_SIZE is 128 words in FreeRTOS's Cortex-M demos),
 * queue structure 80 bytes (sizeof(Queue_t), about 72-80) plus length x item size.
 */
#include <stdlib.h>
#include <string.h>

#include "common.h"

TLSF_SIM_PARAM(tasks, 6);          /* task slots */
TLSF_SIM_PARAM(rounds, 300);       /* scheduler rounds: each live task runs once per round */
TLSF_SIM_PARAM(stack_words_max, 256);
TLSF_SIM_PARAM(queue_length, 8);   /* items per task queue */
TLSF_SIM_PARAM(message_max, 192);  /* largest message payload */
TLSF_SIM_PARAM(churn_pct, 4);      /* chance per round, in percent, that a task is deleted */
TLSF_SIM_PARAM(seed, 7);

enum { TCB_SIZE = 96, QUEUE_STRUCT_SIZE = 80, MAX_TASKS = 32, MESSAGE_MIN = 16 };

/* One queue item: a message passed by pointer, with what the receiver needs to verify it. */
typedef struct {
  uint8_t *message;
  uint32_t size;
  uint32_t tag;
  uint32_t check; /* message ^ size ^ tag ^ ITEM_MAGIC: catches a corrupted queue slot */
} queue_item_t;
#define ITEM_MAGIC 0x51A7E11Eu

typedef struct {
  int live;
  uint8_t *tcb;
  uint8_t *stack;
  uint32_t stack_bytes;
  uint32_t tcb_tag, stack_tag;
  uint8_t *queue; /* QUEUE_STRUCT_SIZE bytes of header, then queue_length items */
  uint32_t queue_tag;
  uint32_t head, count;
} task_t;

static task_t task_table[MAX_TASKS];
/* Tasks deleted but not yet cleaned up by the idle task (FreeRTOS's xTasksWaitingTermination). */
static task_t terminated[MAX_TASKS];
static int terminated_count;
static uint32_t queue_length;
static uint32_t messages_sent, messages_received, tasks_created, tasks_deleted, queue_full;

static queue_item_t *queue_slot(task_t *task, uint32_t index) {
  return (queue_item_t *)(task->queue + QUEUE_STRUCT_SIZE) + index % queue_length;
}

static void task_create(task_t *task, rng_t *rng, uint32_t stack_words_max) {
  uint32_t words = rng_range(rng, 128, stack_words_max < 128 ? 128 : stack_words_max);
  words = (words + 31u) & ~31u;
  /* FreeRTOS allocates the stack before the TCB when the stack grows down. */
  task->stack_bytes = words * 4u;
  task->stack = (uint8_t *)xmalloc(task->stack_bytes);
  task->stack_tag = next_tag();
  pattern_fill(task->stack, 0, task->stack_bytes, task->stack_tag);
  task->tcb = (uint8_t *)xmalloc(TCB_SIZE);
  task->tcb_tag = next_tag();
  pattern_fill(task->tcb, 0, TCB_SIZE, task->tcb_tag);
  task->queue = (uint8_t *)xmalloc(QUEUE_STRUCT_SIZE + queue_length * sizeof(queue_item_t));
  task->queue_tag = next_tag();
  pattern_fill(task->queue, 0, QUEUE_STRUCT_SIZE, task->queue_tag);
  task->head = task->count = 0;
  task->live = 1;
  tasks_created++;
}

static void message_free(const queue_item_t *item) {
  TLSF_SIM_ASSERT(item->check == ((uint32_t)(uintptr_t)item->message ^ item->size ^ item->tag ^ ITEM_MAGIC));
  pattern_verify(item->message, 0, item->size, item->tag);
  free(item->message);
}

static int receive(task_t *task) {
  if (task->count == 0) return 0;
  queue_item_t item = *queue_slot(task, task->head);
  task->head++;
  task->count--;
  message_free(&item);
  messages_received++;
  return 1;
}

static void send(task_t *target, rng_t *rng, uint32_t message_max) {
  if (target->count == queue_length) {
    queue_full++; /* xQueueSend with no wait: the sender drops its message */
    return;
  }
  queue_item_t item;
  item.size = rng_range(rng, MESSAGE_MIN, message_max);
  item.message = (uint8_t *)xmalloc(item.size);
  item.tag = next_tag();
  pattern_fill(item.message, 0, item.size, item.tag);
  item.check = (uint32_t)(uintptr_t)item.message ^ item.size ^ item.tag ^ ITEM_MAGIC;
  *queue_slot(target, target->head + target->count) = item;
  target->count++;
  messages_sent++;
}

/* vTaskDelete: the queue is deleted by its owner at once, the stack and TCB wait for the idle task. */
static void task_delete(task_t *task) {
  while (receive(task)) {
  }
  pattern_verify(task->queue, 0, QUEUE_STRUCT_SIZE, task->queue_tag);
  free(task->queue);
  task->queue = NULL;
  task->live = 0;
  terminated[terminated_count++] = *task;
  tasks_deleted++;
}

static void idle_task(void) {
  while (terminated_count > 0) {
    task_t *task = &terminated[--terminated_count];
    pattern_verify(task->tcb, 0, TCB_SIZE, task->tcb_tag);
    pattern_verify(task->stack, 0, task->stack_bytes, task->stack_tag);
    free(task->tcb);
    free(task->stack);
  }
}

int main(void) {
  int task_count = (int)param_clamp(TLSF_SIM_PARAM_GET(tasks), 2, MAX_TASKS);
  int32_t rounds = param_clamp(TLSF_SIM_PARAM_GET(rounds), 1, 100000000);
  uint32_t stack_words_max = (uint32_t)param_clamp(TLSF_SIM_PARAM_GET(stack_words_max), 128, 16384);
  queue_length = (uint32_t)param_clamp(TLSF_SIM_PARAM_GET(queue_length), 1, 256);
  uint32_t message_max = (uint32_t)param_clamp(TLSF_SIM_PARAM_GET(message_max), MESSAGE_MIN, 65536);
  uint32_t churn_pct = (uint32_t)param_clamp(TLSF_SIM_PARAM_GET(churn_pct), 0, 100);
  rng_t rng;
  rng_seed(&rng, (uint32_t)TLSF_SIM_PARAM_GET(seed));

  tlsf_sim_printf("rtos-queues: %d tasks, %ld rounds, stacks up to %lu words\n", task_count, (long)rounds,
                  (unsigned long)stack_words_max);
  for (int i = 0; i < task_count; i++) task_create(&task_table[i], &rng, stack_words_max);
  report_heap("tasks created");

  for (int32_t round = 0; round < rounds; round++) {
    for (int i = 0; i < task_count; i++) {
      task_t *task = &task_table[i];
      if (!task->live) {
        /* A supervisor recreates stopped tasks on a later round. */
        if (rng_range(&rng, 0, 3) == 0) task_create(task, &rng, stack_words_max);
        continue;
      }
      uint32_t take = rng_range(&rng, 0, 2);
      while (take-- > 0 && receive(task)) {
      }
      uint32_t sends = rng_range(&rng, 0, 2);
      while (sends-- > 0) {
        task_t *target = &task_table[rng_range(&rng, 0, (uint32_t)task_count - 1u)];
        if (target->live) send(target, &rng, message_max);
      }
      if (rng_range(&rng, 0, 99) < churn_pct) task_delete(task);
    }
    idle_task();
    if ((round + 1) % 100 == 0) report_heap("round");
  }

  for (int i = 0; i < task_count; i++)
    if (task_table[i].live) task_delete(&task_table[i]);
  idle_task();
  report_heap("end");
  tlsf_sim_printf("rtos-queues: %lu tasks created, %lu deleted, %lu messages sent, %lu received, %lu queue-full drops\n",
                  (unsigned long)tasks_created, (unsigned long)tasks_deleted, (unsigned long)messages_sent,
                  (unsigned long)messages_received, (unsigned long)queue_full);
  return 0;
}

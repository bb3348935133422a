import { parentPort } from 'node:worker_threads';
import { prepareRun, type RunRequest } from './engine.js';
import { isInputError } from './errors.js';
import { runToDocument, type WorkerReply } from './parallel.js';

// A worker thread of parallel.ts: its own emulator, one run per message, the run's report document back.

parentPort!.on('message', (message: { index: number; request: RunRequest; charts: boolean }) => {
  let reply: WorkerReply;
  try {
    const { run, extras } = runToDocument(prepareRun(message.request), false, message.charts);
    reply = { index: message.index, run, extras };
  } catch (error) {
    const known = error instanceof Error ? error : new Error(String(error));
    const { name, message: text, stack } = known;
    reply = { index: message.index, error: { name, message: text, stack, input: isInputError(known) } };
  }
  parentPort!.postMessage(reply);
});

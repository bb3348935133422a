// Engine benchmark: the three kinds of guest work of issue 14 (integer loop, malloc/free churn writing every
// word, word stores), run by tlsf-sim and, when qemu-system-arm is installed, by QEMU's mps2-an386 with exact
// instruction counting (-icount shift=0) and without; prints the time ratio. Same source, compiler and flags
// on both sides (firmware-sim/bench/workload.c); only malloc differs (host TLSF against newlib's).
// Run: npx tsc -p tsconfig.json && node dist/bench/workloads.js   (TLSF_SIM_BENCH_SCALE=0.1 for a quick look)
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadBoard, runFirmware } from '../src/board/index.js';
import { engineInfo } from '../src/board/unicorn.js';
import { tuneV8ForBoard } from '../src/board/v8-tuning.js';

const here = dirname(fileURLToPath(import.meta.url));
const root =
  [resolve(here, '..'), resolve(here, '..', '..')].find((candidate) =>
    existsSync(resolve(candidate, 'firmware-sim/bench')),
  ) ?? resolve(here, '..', '..');
const elfPath = (name: string) => resolve(root, 'firmware-sim/bench/elf', name);

export interface Workload {
  name: string;
  kind: number;
  count: number;
}

/** The sizes: 1.8 G instructions of integer loop (3 per iteration), 200 k pairs, 100 M word stores. */
export function workloads(scale = 1): Workload[] {
  const scaled = (count: number) => Math.max(1, Math.round(count * scale));
  return [
    { name: 'integer loop', kind: 1, count: scaled(600_000_000) },
    { name: 'malloc/free churn', kind: 2, count: scaled(200_000) },
    { name: 'word stores', kind: 3, count: scaled(100_000_000) },
  ];
}

export interface WorkloadResult {
  name: string;
  instructions: number;
  tlsfSimMs: number;
  qemuIcountMs: number | null;
  qemuMs: number | null;
  /** tlsf-sim time over QEMU -icount shift=0 time (target: at most 2). */
  ratio: number | null;
}

/** CPU time (user + system) of this process in ms: the bench machines are shared. */
function cpuMs(since?: NodeJS.CpuUsage): number {
  const usage = process.cpuUsage(since);
  return (usage.user + usage.system) / 1000;
}

function runOnBoard(
  elf: Uint8Array,
  workload: Workload,
): { ms: number; instructions: number; output: string; counting: string } {
  const started = process.cpuUsage();
  const params = { kind: workload.kind, count: workload.count };
  const report = runFirmware({
    elf,
    elfName: 'workload',
    board: loadBoard('stm32f411re'),
    params,
    maxInstructions: 1e11,
  });
  const ms = cpuMs(started);
  if (report.result !== 'ok') {
    throw new Error(`bench workload ${workload.name} ended ${report.result}: ${report.message ?? ''}`);
  }
  return { ms, instructions: report.instructions, output: report.output, counting: report.counting ?? 'unknown' };
}

export function qemuAvailable(): boolean {
  return spawnSync('qemu-system-arm', ['--version'], { encoding: 'utf8' }).status === 0;
}

/** One QEMU process; its CPU time from bash's `times` (children's user and system time). */
function runOnQemu(workload: Workload, icount: boolean): { ms: number; output: string } {
  const args = [
    '-M',
    'mps2-an386',
    '-nographic',
    '-monitor',
    'none',
    '-serial',
    'none',
    ...(icount ? ['-icount', 'shift=0'] : []),
    '-semihosting-config',
    `enable=on,target=native,arg=kind=${workload.kind},arg=count=${workload.count}`,
    '-kernel',
    elfPath('workload-mps2-an386.elf'),
  ];
  const script = 'qemu-system-arm "$@"; status=$?; times >&2; exit $status';
  const result = spawnSync('bash', ['-c', script, 'qemu', ...args], { encoding: 'utf8', timeout: 600_000 });
  if (result.status !== 0) {
    throw new Error(
      `bench: qemu-system-arm ${workload.name} failed (${result.status}): ${result.stderr.trim().slice(0, 200)}`,
    );
  }
  // QEMU writes the semihosting console to stderr, before the two lines of `times` (shell, then children).
  const lines = result.stderr.trimEnd().split('\n');
  const children = lines[lines.length - 1]!.trim().split(/\s+/);
  const output = lines
    .slice(0, -2)
    .map((line) => `${line}\n`)
    .join('');
  const seconds = (text: string) => {
    const match = /^(\d+)m([\d.]+)s$/.exec(text);
    return match ? Number(match[1]) * 60 + Number(match[2]) : NaN;
  };
  return { ms: (seconds(children[0]!) + seconds(children[1]!)) * 1000, output };
}

export function runWorkloadBench(scale = Number(process.env.TLSF_SIM_BENCH_SCALE ?? 1)): WorkloadResult[] {
  const elf = readFileSync(elfPath('workload-stm32f411re.elf'));
  const engine = engineInfo();
  const withQemu = qemuAvailable();
  const { counting } = runOnBoard(elf, { name: 'warm-up', kind: 1, count: 1000 });
  const fixed = (value: number | null) => (value === null || !Number.isFinite(value) ? 'n/a' : value.toFixed(0));
  const row = (cells: string[]) =>
    console.log(
      `  ${cells[0]!.padEnd(18)} ${cells[1]!.padStart(13)} ${cells[2]!.padStart(9)} ` +
        `${cells[3]!.padStart(12)} ${cells[4]!.padStart(6)} ${cells[5]!.padStart(8)}`,
    );
  console.log(
    `engine workloads (Unicorn ${engine.version} at ${engine.path}, counting ${counting}; ` +
      'stm32f411re against QEMU mps2-an386; ' +
      'CPU ms, best of 3)',
  );
  if (!withQemu)
    console.log(
      '  qemu-system-arm not installed: tlsf-sim figures only (TLSF_SIM_WANT_BENCH=1 npm run setup installs it)',
    );
  row(['workload', 'instructions', 'tlsf-sim', 'QEMU icount', 'ratio', 'QEMU']);
  const results: WorkloadResult[] = [];
  for (const workload of workloads(scale)) {
    let board = runOnBoard(elf, workload);
    for (let round = 1; round < 3; round++) {
      const again = runOnBoard(elf, workload);
      if (again.ms < board.ms) board = again;
    }
    let qemuIcountMs: number | null = null;
    let qemuMs: number | null = null;
    if (withQemu) {
      const counted = [0, 1, 2].map(() => runOnQemu(workload, true));
      // The same checksum line on both sides: the two builds did the same work.
      if (counted[0]!.output.trim() !== board.output.trim()) {
        const [theirs, ours] = [counted[0]!.output.trim(), board.output.trim()];
        throw new Error(`bench: QEMU printed ${JSON.stringify(theirs)}, tlsf-sim ${JSON.stringify(ours)}`);
      }
      qemuIcountMs = Math.min(...counted.map((run) => run.ms));
      qemuMs = Math.min(...[0, 1, 2].map(() => runOnQemu(workload, false).ms));
    }
    const ratio = qemuIcountMs === null ? null : board.ms / qemuIcountMs;
    results.push({
      name: workload.name,
      instructions: board.instructions,
      tlsfSimMs: board.ms,
      qemuIcountMs,
      qemuMs,
      ratio,
    });
    row([
      workload.name,
      String(board.instructions),
      fixed(board.ms),
      fixed(qemuIcountMs),
      ratio === null ? 'n/a' : `${ratio.toFixed(2)}x`,
      fixed(qemuMs),
    ]);
  }
  return results;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  tuneV8ForBoard(); // as the CLI runs, so `node dist/bench/...` measures what `tlsf-sim bench` does
  runWorkloadBench();
}

// What the page's bundle gets for src/cli/engine.js (page-bundle.ts redirects the import): learn-run.ts imports
// the run functions, which only the CLI calls; the page never runs firmware.

function notInThePage(): never {
  throw new Error('the report page replays a recorded run; it cannot start one');
}

export const execute = notInThePage;
export const prepareRun = notInThePage;

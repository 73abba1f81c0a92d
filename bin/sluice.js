#!/usr/bin/env node
import { main } from '../dist/src/cli/main.js';

main(process.argv.slice(2)).then(
  (code) => {
    if (typeof code === 'number') process.exitCode = code;
  },
  (err) => {
    console.error(`sluice: ${err && err.message ? err.message : String(err)}`);
    process.exitCode = 1;
  },
);

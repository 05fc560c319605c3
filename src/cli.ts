#!/usr/bin/env node
import { buildCli, failLine } from './cli/commands.js';

buildCli()
  .parseAsync(process.argv)
  .catch((err: unknown) => {
    process.stderr.write(`laurel: ${failLine(err)}\n`);
    process.exit(1);
  });

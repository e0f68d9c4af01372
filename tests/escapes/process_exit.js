// process.exit ends the run, not the worker.
process.exitCode = 0;
process.exit(7);

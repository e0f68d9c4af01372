// The outrigger worker runtime: the program every engine process runs.
//
// It speaks JSON-RPC 2.0, one JSON text per line, over the private channel the
// host hands it as file descriptor 3, and runs each script in a `vm` context of
// its own. See ARCHITECTURE.md at the repository root for the protocol.
//
// Plain ESM with no dependencies, in numbered files (00_codes.mjs onwards)
// each importing only from files numbered lower. The host assembles them
// into one program and starts it with `node --input-type=module -e
// <program>`, which then calls `serve()`; so no install step is needed.

import { connect } from './03_channel.mjs';
import { sendLog } from './07_console.mjs';
import { freezeWorkerRealm } from './10_sharing.mjs';
import { handleLine } from './32_dispatch.mjs';

/** Connects to the host over the inherited channel and serves until it closes. */
export function serve(fd = 3) {
  freezeWorkerRealm();
  process.on('uncaughtException', (error) => {
    sendLog('error', ['Uncaught exception:', error]);
  });
  process.on('unhandledRejection', (reason) => {
    sendLog('error', ['Unhandled promise rejection:', reason]);
  });
  connect(fd, handleLine);
}

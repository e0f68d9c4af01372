// What scripts send through `console` and `host.emit`: `log` and `event`
// notifications tagged with their run.

import { Buffer } from 'node:buffer';
import { CODES } from './00_codes.mjs';
import { config } from './02_config.mjs';
import { notify } from './03_channel.mjs';
import { toJsonText, logArgJson } from './04_json.mjs';
import { currentRun } from './06_current_run.mjs';

/**
 * Sends one console call. False when the run has passed its console limit:
 * the run is ended, and the caller throws so that a logging loop stops.
 */
export function sendLog(level, args, state) {
  const run = currentRun(state);
  let params = '{"run":' + (run ? run.id : 'null') + ',"level":"' + level + '","args":[';
  for (let i = 0; i < args.length; i++) {
    if (i > 0) params += ',';
    params += logArgJson(args[i]);
  }
  params += ']}';
  if (run !== undefined && config.maxConsoleBytes > 0 && !run.finished) {
    run.consoleBytes += params.length;
    if (run.consoleBytes > config.maxConsoleBytes) {
      if (run.endReason === undefined) {
        run.end(CODES.LIMIT, `the run's console output passed its limit of ${config.maxConsoleBytes} bytes (Sandbox::max_console_bytes)`);
      }
      return false;
    }
  }
  if (params.length * 3 > config.maxMessageBytes) {
    const bytes = Buffer.byteLength(params, 'utf8');
    if (bytes > config.maxMessageBytes) {
      const notice = `[log line of ${bytes} bytes dropped: over the limit of ${config.maxMessageBytes}]`;
      params = '{"run":' + (run ? run.id : 'null') + ',"level":"' + level + '","args":[' + JSON.stringify(notice) + ']}';
    }
  }
  notify('log', params);
  return true;
}

/** Sends a `host.emit(name, data)`; throws a NonJsonError for data JSON cannot carry. */
export function sendEvent(name, data, state) {
  const run = currentRun(state);
  const frames = [];
  const dataJson = toJsonText(data, 'event data', frames);
  notify('event', '{"run":' + (run ? run.id : 'null') + ',"name":' + JSON.stringify(name) + ',"data":' + dataJson + '}', frames);
}

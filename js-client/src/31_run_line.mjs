// A run's request line in the one shape the host writes for nearly every
// run, read without the JSON parser. A run of a script the worker has
// compiled is sent by key alone, with its limits as integers:
//
//   {"jsonrpc":"2.0","id":7,"method":"run","params":{"key":"9f…","timeout":30000,"startBy":81234567}}
//
// Parsing that line with `JSON.parse` is the largest cost a shared-context
// run has in the worker (interning its names, hashing, building two objects
// through map transitions, reading a large number through `strtod`); read
// here it is one match of a regular expression. Anything else, or anything
// this reader is not certain to read exactly as `JSON.parse` would, is left
// to `JSON.parse`.

/** An integer in JSON's own form, of at most 15 digits: every such integer is exact in a double. */
const INTEGER = '(?:0|[1-9][0-9]{0,14})';

/**
 * The shape, with its params in the order the host writes them
 * (`wire::methods::Run`). A key is lowercase hex (`script_key.rs`): nothing
 * in it to unescape. Only the key is captured: the integers are read from
 * the line itself, where the match has placed them.
 */
const RUN_LINE = new RegExp(
  '^\\{"jsonrpc":"2\\.0","id":' + INTEGER + ',"method":"run","params":\\{"key":"([0-9a-f]+)"'
  + '(?:,"session":' + INTEGER + ')?'
  + '(?:,"timeout":' + INTEGER + ')?'
  + '(?:,"maxCallbacks":' + INTEGER + ')?'
  + '(?:,"startBy":' + INTEGER + ')?'
  + '\\}\\}$',
);

/** Where the id starts, what stands between it and the key, and each param's name. */
const ID_AT = '{"jsonrpc":"2.0","id":'.length;
const TO_KEY = ',"method":"run","params":{"key":"'.length;
const SESSION = ',"session":'.length;
const TIMEOUT = ',"timeout":'.length;
const MAX_CALLBACKS = ',"maxCallbacks":'.length;
const START_BY = ',"startBy":'.length;

/**
 * The longest line read here. Its key is a slice of the line (a view, not a
 * copy), which the script caches may keep: bounding the line bounds what a
 * kept key holds on to.
 */
const MAX_LINE = 256;

/** Lines read here, for the host's `stats` request. */
let read = 0;

export function fastRunLines() {
  return read;
}

/** Where the last integer read (`integerAt`) ended. */
let integerEnd = 0;

/** The integer whose digits start at `at` (the match has checked them). */
function integerAt(line, at) {
  let value = 0;
  for (;; at++) {
    const c = line.charCodeAt(at);
    if (!(c >= 48 && c <= 57)) break;
    value = value * 10 + (c - 48);
  }
  integerEnd = at;
  return value;
}

/**
 * The message `JSON.parse(line)` gives, for a run by key in the shape above;
 * undefined for any other line, which the caller parses as JSON.
 */
export function readRunLine(line) {
  if (line.length > MAX_LINE) return undefined;
  const match = RUN_LINE.exec(line);
  if (match === null) return undefined;
  const id = integerAt(line, ID_AT);
  const key = match[1];
  // Only what the line holds, as `JSON.parse` would give it.
  const params = { key };
  // Each param after the key is `,"name":digits`, known by the third
  // character of its name (the fourth for `session` and `startBy`).
  let at = integerEnd + TO_KEY + key.length + 1;
  while (line.charCodeAt(at) === 44) {
    const third = line.charCodeAt(at + 2);
    if (third === 116) {
      params.timeout = integerAt(line, at + TIMEOUT);
    } else if (third === 109) {
      params.maxCallbacks = integerAt(line, at + MAX_CALLBACKS);
    } else if (line.charCodeAt(at + 3) === 101) {
      params.session = integerAt(line, at + SESSION);
    } else {
      params.startBy = integerAt(line, at + START_BY);
    }
    at = integerEnd;
  }
  read++;
  return { jsonrpc: '2.0', id, method: 'run', params };
}

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
const INTEGER = '(0|[1-9][0-9]{0,14})';

/**
 * The shape, with its params in the order the host writes them
 * (`wire::methods::Run`). A key is lowercase hex (`script_key.rs`): nothing
 * in it to unescape.
 */
const RUN_LINE = new RegExp(
  '^\\{"jsonrpc":"2\\.0","id":' + INTEGER + ',"method":"run","params":\\{"key":"([0-9a-f]+)"'
  + '(?:,"session":' + INTEGER + ')?'
  + '(?:,"timeout":' + INTEGER + ')?'
  + '(?:,"maxCallbacks":' + INTEGER + ')?'
  + '(?:,"startBy":' + INTEGER + ')?'
  + '\\}\\}$',
);

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

/** The value of digits `RUN_LINE` matched as an integer. */
function integer(digits) {
  let value = 0;
  for (let i = 0; i < digits.length; i++) value = value * 10 + (digits.charCodeAt(i) - 48);
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
  // Only what the line holds, as `JSON.parse` would give it.
  const params = { key: match[2] };
  if (match[3] !== undefined) params.session = integer(match[3]);
  if (match[4] !== undefined) params.timeout = integer(match[4]);
  if (match[5] !== undefined) params.maxCallbacks = integer(match[5]);
  if (match[6] !== undefined) params.startBy = integer(match[6]);
  read++;
  return { jsonrpc: '2.0', id: integer(match[1]), method: 'run', params };
}

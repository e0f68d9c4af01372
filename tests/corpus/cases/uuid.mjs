// uuid: random v4/v7 checked for shape and version (not value), name-based
// v5 (SHA-1) exactly, parse/stringify, the nil UUID.
import { v4, v5, v7, validate, version, parse, stringify, NIL } from 'uuid';

const random = v4();
const timed = v7();
const bytes = parse('6ba7b810-9dad-11d1-80b4-00c04fd430c8');

export default {
  v4: { valid: validate(random), version: version(random), distinct: random !== v4() },
  v7: { valid: validate(timed), version: version(timed) },
  v5: v5('https://example.com', v5.URL),
  parsed: { length: bytes.length, isUint8Array: bytes instanceof Uint8Array, back: stringify(bytes) },
  nil: validate(NIL),
  invalid: validate('not-a-uuid'),
};

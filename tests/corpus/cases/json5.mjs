// json5 (CommonJS): comments, trailing commas, unquoted keys, hex, Infinity.
import JSON5 from 'json5';

const value = JSON5.parse(`{
  // a comment
  unquoted: 'and you can quote me on that',
  hex: 0xDECAF,
  leadingDecimal: .8675309, andTrailing: 8675309.,
  positiveSign: +1,
  trailingComma: 'in objects', andIn: ['arrays',],
  "backwardsCompatible": "with JSON",
}`);

export default {
  value,
  infinite: JSON5.parse('[Infinity, -Infinity]').map(String),
  text: JSON5.stringify({ a: 1, 'b-c': [true, null], d: 'it\'s' }, null, 2),
};

// smol-toml: parse (dates, tables, arrays of tables), stringify, errors.
import { parse, stringify, TomlError } from 'smol-toml';

const doc = parse(`
title = "TOML"
[owner]
name = "Tom"
dob = 1979-05-27T07:32:00-08:00
[[products]]
name = "Hammer"
sku = 738594937
[[products]]
name = "Nail"
color = "gray"
`);

let error = null;
try {
  parse('a = ');
} catch (caught) {
  error = { isTomlError: caught instanceof TomlError, line: caught.line };
}

export default {
  title: doc.title,
  dob: doc.owner.dob.toISOString(),
  products: doc.products,
  text: stringify({ a: 1, b: { c: [1, 2], d: 'x' } }),
  error,
};

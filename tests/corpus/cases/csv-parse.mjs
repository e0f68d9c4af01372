// csv-parse: the sync API with columns, casting and quoted fields, and the
// callback API.
import { parse } from 'csv-parse';
import { parse as parseSync } from 'csv-parse/sync';

const input = 'id,name,amount\n1,"Lovelace, Ada",12.5\n2,"Hopper ""Amazing"" Grace",7\n';

const records = parseSync(input, { columns: true, cast: true, skip_empty_lines: true });
const rows = await new Promise((resolve, reject) => {
  parse('a;b\n1;2\n', { delimiter: ';' }, (error, output) => (error ? reject(error) : resolve(output)));
});

export default { records, rows };

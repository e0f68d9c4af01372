// papaparse (CommonJS): header rows, dynamic typing, errors, unparse.
import Papa from 'papaparse';

const parsed = Papa.parse('name,age,member\nAda,36,true\nGrace,85,false\n', { header: true, dynamicTyping: true, skipEmptyLines: true });
const broken = Papa.parse('a,b\n1,2,3\n"unterminated', { skipEmptyLines: true });

export default {
  data: parsed.data,
  fields: parsed.meta.fields,
  errors: broken.errors.map((error) => ({ type: error.type, code: error.code, row: error.row })),
  unparsed: Papa.unparse([{ x: 1, y: 'a,b' }, { x: 2, y: 'say "hi"' }]),
};

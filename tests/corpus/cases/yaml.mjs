// yaml: parse with anchors, the Document API with comments, stringify.
import YAML from 'yaml';

const source = `# settings
base: &base
  retries: 3
  timeout: 1.5
service:
  <<: *base
  name: api
  ports: [80, 443]
  notes: |
    line one
    line two
`;

const doc = YAML.parseDocument(source, { merge: true });
doc.setIn(['service', 'name'], 'web');

export default {
  parsed: YAML.parse(source, { merge: true }),
  edited: doc.toString(),
  stringified: YAML.stringify({ list: [1, 'two', { three: 3 }], empty: null, date: '2024-02-29' }),
  error: (() => {
    try {
      YAML.parse('a: [1, 2');
      return null;
    } catch (error) {
      return error.name;
    }
  })(),
};

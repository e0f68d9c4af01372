// js-yaml: load (with a schema) and dump.
import * as yaml from 'js-yaml';

const source = `
name: outrigger
version: 1.2
enabled: true
matrix:
  - { os: linux, node: 20 }
  - { os: mac, node: 22 }
`;

let error = null;
try {
  yaml.load('key: [unclosed');
} catch (caught) {
  error = caught.name;
}

export default {
  loaded: yaml.load(source),
  dumped: yaml.dump({ a: 1, b: ['x', 'y'], c: { d: null, e: 'multi\nline' } }, { sortKeys: true }),
  json: yaml.load('when: 2024-02-29', { schema: yaml.JSON_SCHEMA }),
  error,
};

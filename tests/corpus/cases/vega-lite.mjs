// vega-lite: compiling a Vega-Lite spec to a Vega spec (pure data out).
import { compile } from 'vega-lite';

const { spec } = compile({
  $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
  data: { values: [{ a: 'A', b: 28 }, { a: 'B', b: 55 }, { a: 'C', b: 43 }] },
  mark: 'bar',
  encoding: { x: { field: 'a', type: 'nominal' }, y: { field: 'b', type: 'quantitative', aggregate: 'sum' } },
});

export default {
  schema: spec.$schema,
  data: spec.data.map((d) => ({ name: d.name, transform: d.transform?.map((t) => t.type) ?? [] })),
  scales: spec.scales.map((s) => ({ name: s.name, type: s.type })),
  marks: spec.marks.map((m) => ({ type: m.type, encode: Object.keys(m.encode.update).sort() })),
  axes: spec.axes.length,
};

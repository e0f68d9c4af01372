// vega: a bar chart spec parsed, run headless (no canvas: renderer 'none')
// and rendered to an SVG string.
import * as vega from 'vega';

const spec = {
  $schema: 'https://vega.github.io/schema/vega/v6.json',
  width: 200,
  height: 100,
  padding: 5,
  data: [{ name: 'table', values: [{ c: 'A', n: 28 }, { c: 'B', n: 55 }, { c: 'C', n: 43 }] }],
  scales: [
    { name: 'x', type: 'band', domain: { data: 'table', field: 'c' }, range: 'width', padding: 0.1 },
    { name: 'y', domain: { data: 'table', field: 'n' }, nice: true, range: 'height' },
  ],
  axes: [{ orient: 'bottom', scale: 'x' }, { orient: 'left', scale: 'y' }],
  marks: [{
    type: 'rect',
    from: { data: 'table' },
    encode: { enter: { x: { scale: 'x', field: 'c' }, width: { scale: 'x', band: 1 }, y: { scale: 'y', field: 'n' }, y2: { scale: 'y', value: 0 }, fill: { value: 'steelblue' } } },
  }],
};

const view = new vega.View(vega.parse(spec), { renderer: 'none' });
const svg = await view.toSVG();
await view.runAsync();

export default {
  bars: (svg.match(/<path/g) ?? []).length,
  starts: svg.slice(0, 60),
  length: svg.length,
  svg,
  yDomain: view.scale('y').domain(),
};

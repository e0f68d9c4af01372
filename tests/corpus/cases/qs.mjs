// qs (CommonJS): nested query strings both ways.
import qs from 'qs';

export default {
  parsed: qs.parse('a[b][c]=d&list[]=1&list[]=2&flag&enc=%E2%9C%93'),
  stringified: qs.stringify({ a: { b: { c: 'd' } }, list: [1, 2], space: 'a b' }),
  brackets: qs.stringify({ a: ['x', 'y'] }, { arrayFormat: 'brackets', encode: false }),
  dotted: qs.parse('user.name=ada&user.age=36', { allowDots: true }),
};

// mathjs: expressions, matrices, units, fractions, symbolic derivatives.
import { create, all } from 'mathjs';

const math = create(all, { number: 'number' });
const fractions = create(all, { number: 'Fraction' });

export default {
  evaluated: math.evaluate('sqrt(3^2 + 4^2) * 2'),
  units: math.evaluate('12.7 cm to inch').toString(),
  matrix: math.multiply(math.matrix([[1, 2], [3, 4]]), math.matrix([[5], [6]])).toArray(),
  det: math.det([[2, 1], [1, 3]]),
  inverse: math.inv([[4, 7], [2, 6]]).map((row) => row.map((x) => math.round(x, 6))),
  derivative: math.derivative('x^3 + 2x', 'x').toString(),
  simplified: math.simplify('2x + 3x - x').toString(),
  fraction: fractions.evaluate('1/3 + 1/6').toString(),
  complex: math.sqrt(-4).toString(),
  formatted: math.format(math.pi, { precision: 10 }),
};

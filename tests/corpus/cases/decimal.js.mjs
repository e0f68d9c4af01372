// decimal.js: arbitrary-precision decimals.
import Decimal from 'decimal.js';

Decimal.set({ precision: 40 });

export default {
  sum: new Decimal('0.1').plus('0.2').toString(),
  sqrt2: Decimal.sqrt(2).toString(),
  pow: new Decimal(2).pow(100).toFixed(),
  division: new Decimal(1).div(7).toSignificantDigits(20).toString(),
  rounding: new Decimal('2.345').toDecimalPlaces(2, Decimal.ROUND_HALF_EVEN).toString(),
  compare: new Decimal('1e-30').lt('1e-29'),
};

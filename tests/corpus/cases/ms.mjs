// ms (CommonJS): durations both ways.
import ms from 'ms';

export default {
  parsed: [ms('2 days'), ms('1d'), ms('10h'), ms('2.5 hrs'), ms('1y'), ms('100'), ms('-3 days')],
  formatted: [ms(60000), ms(2 * 60000), ms(-3 * 60000), ms(ms('10 hours'))],
  long: ms(ms('10 hours'), { long: true }),
};

// dayjs with its utc and customParseFormat plugins: parsing, arithmetic,
// formatting, comparison.
import dayjs from 'dayjs';
import utc from 'dayjs/plugin/utc.js';
import customParseFormat from 'dayjs/plugin/customParseFormat.js';

dayjs.extend(utc);
dayjs.extend(customParseFormat);

const leap = dayjs.utc('2024-02-29T12:30:00Z');
const parsed = dayjs.utc('03/15/2023 08:05', 'MM/DD/YYYY HH:mm');

export default {
  nextYear: leap.add(1, 'year').format('YYYY-MM-DD'),
  endOfMonth: leap.endOf('month').toISOString(),
  weekday: leap.format('dddd, MMMM D, YYYY h:mm A'),
  parsed: parsed.toISOString(),
  daysBetween: leap.diff(parsed, 'day'),
  before: parsed.isBefore(leap),
  valid: dayjs('not a date').isValid(),
};

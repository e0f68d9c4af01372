// luxon: zones (Intl time zone data), durations, intervals, locales.
import { DateTime, Duration, Interval } from 'luxon';

const t = DateTime.fromISO('2024-03-10T06:30:00', { zone: 'utc' });
const ny = t.setZone('America/New_York');

export default {
  utc: t.toISO(),
  newYork: ny.toISO(),
  offset: ny.offsetNameShort,
  german: t.setLocale('de').toLocaleString(DateTime.DATE_FULL),
  plus: t.plus({ months: 1, days: 3 }).toISODate(),
  duration: Duration.fromObject({ hours: 36, minutes: 90 }).shiftTo('days', 'hours', 'minutes').toObject(),
  interval: Interval.fromDateTimes(t, t.plus({ weeks: 2 })).length('days'),
  relative: t.toRelative({ base: t.plus({ days: 3 }), locale: 'en' }),
  invalid: DateTime.fromISO('2024-13-45').invalidReason,
};

// date-fns: pure functions on local dates (made and formatted in the same
// zone, so the result does not depend on it), parsing, intervals.
import { addDays, addMonths, differenceInCalendarDays, eachDayOfInterval, format, formatDistanceStrict, isWeekend, parse, parseISO, startOfWeek } from 'date-fns';

const start = new Date(2024, 0, 30);
const parsed = parse('15.03.2023', 'dd.MM.yyyy', new Date(2000, 0, 1));

export default {
  plusMonth: format(addMonths(start, 1), 'yyyy-MM-dd'),
  plusDays: format(addDays(start, 45), 'EEEE do MMMM yyyy'),
  weekStart: format(startOfWeek(start, { weekStartsOn: 1 }), 'yyyy-MM-dd'),
  parsed: format(parsed, 'yyyy-MM-dd'),
  iso: format(parseISO('2024-06-01T10:20:30'), 'HH:mm:ss'),
  between: differenceInCalendarDays(start, parsed),
  distance: formatDistanceStrict(start, parsed),
  weekends: eachDayOfInterval({ start, end: addDays(start, 10) }).filter(isWeekend).map((day) => format(day, 'MM-dd')),
};

// rxjs: operators over a synchronous source, a Subject, a timer-based
// stream resolved through lastValueFrom.
import { from, Subject, lastValueFrom, timer, map, filter, scan, take, toArray, mergeMap, of, bufferCount, distinctUntilChanged } from 'rxjs';

const sums = await lastValueFrom(from([1, 2, 3, 4, 5, 6]).pipe(filter((n) => n % 2 === 0), map((n) => n * 10), scan((acc, n) => acc + n, 0), toArray()));
const subject = new Subject();
const seen = [];
subject.pipe(distinctUntilChanged(), bufferCount(2)).subscribe((pair) => seen.push(pair));
for (const value of [1, 1, 2, 3, 3, 4]) subject.next(value);
subject.complete();
const ticks = await lastValueFrom(timer(0, 1).pipe(take(3), mergeMap((n) => of(n, n * 100)), toArray()));

export default { sums, seen, ticks };

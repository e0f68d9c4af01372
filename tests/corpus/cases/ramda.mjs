// ramda (ESM): currying, composition, lenses.
import * as R from 'ramda';

const people = [{ name: 'Ada', age: 36 }, { name: 'Grace', age: 85 }, { name: 'Alan', age: 41 }];
const namesOver40 = R.pipe(R.filter(R.propSatisfies(R.lt(40), 'age')), R.map(R.prop('name')), R.sortBy(R.identity));
const ageLens = R.lensProp('age');

export default {
  over40: namesOver40(people),
  older: R.over(ageLens, R.inc, people[0]),
  grouped: R.groupBy((p) => (p.age > 50 ? 'old' : 'young'), people),
  sum: R.sum(R.pluck('age', people)),
  zipped: R.zipObj(['a', 'b'], [1, 2]),
  curried: R.add(2)(3),
};

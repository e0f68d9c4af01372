// lodash (CommonJS): collections, objects, strings, templates (which use
// new Function), memoization.
import _ from 'lodash';

const users = [{ user: 'barney', age: 36, active: true }, { user: 'fred', age: 40, active: false }, { user: 'pebbles', age: 1, active: true }];

export default {
  grouped: _.groupBy(users, 'active'),
  sorted: _.map(_.orderBy(users, ['age'], ['desc']), 'user'),
  merged: _.merge({ a: [{ b: 2 }, { d: 4 }] }, { a: [{ c: 3 }, { e: 5 }] }),
  picked: _.pick({ a: 1, b: '2', c: 3 }, ['a', 'c']),
  strings: [_.camelCase('Foo Bar'), _.kebabCase('fooBar'), _.startCase('--foo-bar--'), _.padStart('5', 3, '0')],
  template: _.template('hello <%= user %>! <% _.forEach(list, function (x) { %><li><%- x %></li><% }); %>')({ user: 'ada', list: ['<a>', 'b'] }),
  chunks: _.chunk([1, 2, 3, 4, 5], 2),
  deep: _.isEqual({ a: [1, { b: 2 }] }, { a: [1, { b: 2 }] }),
  cloned: _.cloneDeep({ d: [1, [2]] }),
};

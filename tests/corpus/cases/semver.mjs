// semver (CommonJS): comparison, ranges, increments, coercion.
import semver from 'semver';

export default {
  valid: [semver.valid('1.2.3'), semver.valid('a.b.c')],
  gt: semver.gt('1.10.0', '1.9.9'),
  satisfies: semver.satisfies('1.2.3', '^1.0.0 || >=2.5.0'),
  max: semver.maxSatisfying(['1.2.3', '1.3.0', '2.0.0-beta.1', '2.0.0'], '^1.2.0'),
  inc: [semver.inc('1.2.3', 'minor'), semver.inc('1.2.3', 'prerelease', 'rc')],
  coerced: semver.coerce('v2.3-beta').version,
  sorted: semver.sort(['1.0.0', '0.9.0', '1.0.0-rc.1']),
  range: new semver.Range('~1.2').range,
  diff: semver.diff('1.2.3', '1.3.0'),
};

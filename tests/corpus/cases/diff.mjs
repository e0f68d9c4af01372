// diff: line and word diffs, a unified patch applied back.
import { diffLines, diffWords, createPatch, applyPatch, diffJson } from 'diff';

const before = 'one\ntwo\nthree\n';
const after = 'one\n2\nthree\nfour\n';
const patch = createPatch('file.txt', before, after, 'old', 'new');

export default {
  lines: diffLines(before, after).map((part) => [part.added ? '+' : part.removed ? '-' : '=', part.value]),
  words: diffWords('the quick brown fox', 'the slow brown dog').filter((part) => part.added || part.removed).map((part) => part.value),
  patch,
  applied: applyPatch(before, patch) === after,
  json: diffJson({ a: 1, b: [1, 2] }, { a: 2, b: [1, 2] }).filter((part) => part.added || part.removed).map((part) => part.value),
};

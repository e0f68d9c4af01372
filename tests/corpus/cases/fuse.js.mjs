// fuse.js: fuzzy search over keys with scores and matches.
import Fuse from 'fuse.js';

const books = [
  { title: "Old Man's War", author: 'John Scalzi' },
  { title: 'The Lock Artist', author: 'Steve Hamilton' },
  { title: 'HTML5', author: 'Remy Sharp' },
  { title: 'Right Ho Jeeves', author: 'P.D. Woodhouse' },
];
const fuse = new Fuse(books, { keys: ['title', 'author'], includeScore: true, includeMatches: true, threshold: 0.4 });

export default {
  results: fuse.search('jon').map((result) => ({ title: result.item.title, score: Number(result.score.toFixed(6)), key: result.matches[0].key })),
  extended: new Fuse(books, { keys: ['title'], useExtendedSearch: true }).search("'Man").map((result) => result.refIndex),
};

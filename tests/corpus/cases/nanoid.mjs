// nanoid: random ids checked for length and alphabet, custom alphabets.
import { nanoid, customAlphabet } from 'nanoid';

const id = nanoid();
const short = nanoid(10);
const hex = customAlphabet('0123456789abcdef', 16)();

export default {
  id: { length: id.length, urlSafe: /^[A-Za-z0-9_-]+$/.test(id) },
  short: short.length,
  hex: { length: hex.length, alphabet: /^[0-9a-f]+$/.test(hex) },
  distinct: nanoid() !== nanoid(),
};

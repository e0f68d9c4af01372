// bcryptjs: hashing with a fixed salt (so the hash is known), comparing,
// and a random salt (only its shape is kept).
import bcrypt from 'bcryptjs';

const salt = '$2b$04$abcdefghijklmnopqrstuu';
const hash = bcrypt.hashSync('correct horse battery staple', salt);
const randomSalt = bcrypt.genSaltSync(4);

export default {
  hash,
  matches: bcrypt.compareSync('correct horse battery staple', hash),
  wrong: await bcrypt.compare('wrong', hash),
  rounds: bcrypt.getRounds(hash),
  randomSalt: /^\$2b\$04\$[./A-Za-z0-9]{22}$/.test(randomSalt),
};

// validator (CommonJS): string validators and sanitizers.
import validator from 'validator';

export default {
  email: [validator.isEmail('ada@example.com'), validator.isEmail('ada@')],
  url: [validator.isURL('https://example.com/a?b=c'), validator.isURL('http://')],
  uuid: validator.isUUID('9b1deb4d-3b7d-4bad-9bdd-2b0d7b3dcb6d', 4),
  creditCard: validator.isCreditCard('4111111111111111'),
  ip: [validator.isIP('192.168.1.1'), validator.isIP('::1', 6)],
  escaped: validator.escape('<a href="x">&</a>'),
  normalized: validator.normalizeEmail('Ada.Lovelace+test@GoogleMail.com'),
  iso: validator.isISO8601('2024-02-29T12:00:00Z'),
};

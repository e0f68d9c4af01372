// crypto-js (CommonJS): hashes, HMAC, encodings, AES with a passphrase
// (a random salt: the round trip is kept, not the ciphertext).
import CryptoJS from 'crypto-js';

const encrypted = CryptoJS.AES.encrypt('secret message', 'passphrase').toString();

export default {
  sha256: CryptoJS.SHA256('abc').toString(),
  md5: CryptoJS.MD5('abc').toString(),
  hmac: CryptoJS.HmacSHA256('message', 'key').toString(CryptoJS.enc.Base64),
  base64: CryptoJS.enc.Base64.stringify(CryptoJS.enc.Utf8.parse('héllo')),
  pbkdf2: CryptoJS.PBKDF2('password', 'salt', { keySize: 4, iterations: 10, hasher: CryptoJS.algo.SHA256 }).toString(),
  aes: CryptoJS.AES.decrypt(encrypted, 'passphrase').toString(CryptoJS.enc.Utf8),
  aesFixed: CryptoJS.AES.encrypt('fixed', CryptoJS.enc.Hex.parse('000102030405060708090a0b0c0d0e0f'), { iv: CryptoJS.enc.Hex.parse('0f0e0d0c0b0a09080706050403020100') }).toString(),
};

// @noble/hashes: hashes of bytes made by TextEncoder and by its own
// utf8ToBytes (it checks its inputs are Uint8Arrays), HMAC, a KDF.
import { sha256, sha512 } from '@noble/hashes/sha2.js';
import { sha3_256 } from '@noble/hashes/sha3.js';
import { blake3 } from '@noble/hashes/blake3.js';
import { hmac } from '@noble/hashes/hmac.js';
import { pbkdf2 } from '@noble/hashes/pbkdf2.js';
import { bytesToHex, utf8ToBytes } from '@noble/hashes/utils.js';

const encoded = new TextEncoder().encode('abc');

export default {
  realm: { textEncoderIsUint8Array: encoded instanceof Uint8Array },
  sha256: bytesToHex(sha256(encoded)),
  sha512: bytesToHex(sha512(utf8ToBytes('abc'))),
  sha3: bytesToHex(sha3_256(utf8ToBytes(''))),
  blake3: bytesToHex(blake3(utf8ToBytes('abc'), { dkLen: 16 })),
  hmac: bytesToHex(hmac(sha256, utf8ToBytes('key'), utf8ToBytes('message'))),
  pbkdf2: bytesToHex(pbkdf2(sha256, utf8ToBytes('password'), utf8ToBytes('salt'), { c: 2, dkLen: 16 })),
};

// jose: an HS256 JWT signed and verified with a key from TextEncoder (as its
// docs do), a JWK thumbprint (crypto.subtle's SHA-256), an ES256 key pair
// (random: only whether verification works is kept), a tampered token.
import { SignJWT, jwtVerify, decodeJwt, calculateJwkThumbprint, generateKeyPair, errors, base64url } from 'jose';

const secret = new TextEncoder().encode('cc7e0d44fd473002f1c42167459001140ec6389b7353f8088f4d9a95f2f596f2');

const jwt = await new SignJWT({ 'urn:example:claim': true, name: 'Ada' })
  .setProtectedHeader({ alg: 'HS256' })
  .setIssuedAt(1700000000)
  .setIssuer('urn:example:issuer')
  .setAudience('urn:example:audience')
  .setExpirationTime(4100000000)
  .sign(secret);
const verified = await jwtVerify(jwt, secret, { issuer: 'urn:example:issuer', audience: 'urn:example:audience' });

let tampered = null;
try {
  await jwtVerify(`${jwt.slice(0, -2)}AA`, secret);
} catch (error) {
  tampered = { code: error.code, isJoseError: error instanceof errors.JOSEError };
}

const { publicKey, privateKey } = await generateKeyPair('ES256');
const es = await new SignJWT({ sub: 'x' }).setProtectedHeader({ alg: 'ES256' }).sign(privateKey);
const esVerified = await jwtVerify(es, publicKey);

export default {
  realm: { secretIsUint8Array: secret instanceof Uint8Array },
  jwt,
  payload: verified.payload,
  header: verified.protectedHeader,
  decoded: decodeJwt(jwt).name,
  tampered,
  thumbprint: await calculateJwkThumbprint({ kty: 'EC', crv: 'P-256', x: 'f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU', y: 'x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0' }),
  es256: esVerified.payload.sub,
  base64url: base64url.encode('hello'),
};

// safer-buffer (CommonJS): the Buffer API without the unsafe constructor.
import safer from 'safer-buffer';

const { Buffer } = safer;

const b = Buffer.from('héllo', 'utf8');

export default {
  realm: { isUint8Array: b instanceof Uint8Array },
  hex: b.toString('hex'),
  base64: b.toString('base64'),
  alloc: Array.from(Buffer.alloc(4, 1)),
  concat: Buffer.concat([Buffer.from('a'), Buffer.from([0x62])]).toString(),
  unsafeRefused: (() => {
    try {
      return typeof Buffer.allocUnsafe;
    } catch (error) {
      return error.name;
    }
  })(),
};

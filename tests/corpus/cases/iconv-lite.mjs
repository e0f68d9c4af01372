// iconv-lite (CommonJS): encode and decode legacy encodings.
import iconv from 'iconv-lite';

const cp1251 = iconv.encode('Привет', 'win1251');
const sjis = iconv.encode('こんにちは', 'Shift_JIS');

export default {
  cp1251: Array.from(cp1251),
  sjis: Array.from(sjis),
  decoded: [iconv.decode(cp1251, 'win1251'), iconv.decode(sjis, 'shiftjis')],
  latin1: iconv.decode(new Uint8Array([0x63, 0x61, 0x66, 0xe9]), 'latin1'),
  exists: [iconv.encodingExists('utf-16le'), iconv.encodingExists('klingon')],
};

// Symbol keys and a getter that throws on the result.
const value = { [Symbol.toPrimitive]: () => 1, ok: 1 };
Object.defineProperty(value, 'boom', { enumerable: true, get() { throw new Error('getter ran'); } });
export default value;

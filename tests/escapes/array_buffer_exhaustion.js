// Memory outside the JavaScript heap: ArrayBuffers, each made resident.
const hoard = [];
while (true) hoard.push(new Uint8Array(64 * 1024 * 1024).fill(1));

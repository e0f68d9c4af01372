// A WebAssembly memory grown 64 MiB at a time, each page touched.
const memory = new WebAssembly.Memory({ initial: 1, maximum: 65536 });
while (true) {
  memory.grow(1024);
  new Uint8Array(memory.buffer).fill(1);
}

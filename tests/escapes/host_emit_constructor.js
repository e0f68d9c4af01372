// host.emit and host itself (a Proxy) lead back to the script's realm only.
export default [
  host.emit.constructor('return typeof globalThis.process?.binding')(),
  Object.getPrototypeOf(host).constructor.constructor('return typeof globalThis.process?.binding')(),
];

import { Worker } from 'node:worker_threads';
let r; try { new Worker('1', { eval: true }); r = 'started'; } catch (e) { r = e.code; }
export default r;

import { WASI } from 'node:wasi';
let r; try { new WASI({ version: 'preview1' }); r = 'made'; } catch (e) { r = e.code; }
export default r;

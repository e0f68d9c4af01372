import inspector from 'node:inspector';
let r; try { inspector.open(0); r = 'opened'; } catch (e) { r = e.code ?? e.name; }
export default r;

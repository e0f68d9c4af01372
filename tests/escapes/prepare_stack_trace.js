// V8 hands Error.prepareStackTrace call sites; getFunction/getThis could leak
// worker frames. The script's own Error is what it can hook.
let leaked = [];
Error.prepareStackTrace = (error, frames) => {
  for (const frame of frames) {
    const f = frame.getFunction?.();
    const t = frame.getThis?.();
    if (t && typeof t === 'object' && typeof t.process?.binding === 'function') leaked.push('this with the worker process');
    if (f && f.constructor !== Function) leaked.push('foreign function');
  }
  return 'hooked';
};
try { null.x; } catch (e) { e.stack; }
try { await fetch('https://example.invalid/'); } catch (e) { e.stack; }
try { console.log.call(null, { toJSON() { throw new Error('in toJSON'); } }); } catch (e) { e.stack; }
export default [leaked, typeof process.binding, typeof require];

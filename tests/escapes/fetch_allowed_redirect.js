const r = await fetch(url);
export default [r.status, await r.text()];

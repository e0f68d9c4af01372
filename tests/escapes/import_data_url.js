const m = await import('data:text/javascript,import fs from "node:fs"; export default fs.readFileSync("/etc/passwd", "utf8");');
export default m.default;

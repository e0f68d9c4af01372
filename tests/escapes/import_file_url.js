const m = await import('file:///etc/passwd');
export default String(m);

// Flat 16 MiB strings in the JavaScript heap, each one distinct.
const hoard = [];
const part = 'x'.repeat(16 * 1024 * 1024 - 8);
for (let i = 0; ; i++) hoard.push((part + String(i).padStart(8, '0')).toLowerCase());

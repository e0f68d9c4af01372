import process from 'node:process';
export default Object.keys(process.env).sort();

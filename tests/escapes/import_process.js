const { default: process } = await import('node:process');
export default process.env;

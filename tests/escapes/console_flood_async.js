for (let i = 0; ; i++) { console.log('y'.repeat(10000)); if (i % 100 === 0) await null; }

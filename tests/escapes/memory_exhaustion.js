const hog = [];
while (true) hog.push(new Array(1e6).fill(1.5));

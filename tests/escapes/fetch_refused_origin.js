await fetch(url);
export default 'reached';

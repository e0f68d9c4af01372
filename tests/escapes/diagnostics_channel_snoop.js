// Subscribe to every channel Node and undici publish on (the worker's
// sockets, fetches, processes, modules), then make the worker use them: a
// fetch, a host call's round trip. A script's diagnostics_channel is its
// own: it hears only what its own realm publishes.
import dc from 'node:diagnostics_channel';
const names = ['net.client.socket', 'net.server.socket', 'http.client.request.start', 'http.client.response.finish',
  'undici:request:create', 'undici:request:headers', 'undici:client:connected', 'undici:client:sendHeaders',
  'child_process', 'worker_threads', 'process.exit', 'module.require.start', 'module.import.start',
  'tracing:node:fs:start', 'console.log'];
const heard = [];
for (const name of names) dc.subscribe(name, (message) => heard.push([name, typeof message]));
for (const name of ['node:diagnostics_channel', 'diagnostics_channel']) {
  const other = await import(name);
  if (other.default !== dc) heard.push(['another module', name]);
}
await fetch('data:text/plain,hello').then((r) => r.text());
console.log('a line through the worker');
await new Promise((resolve) => setTimeout(resolve, 10));
// What a script publishes reaches its own subscribers.
dc.channel('mine').subscribe((m) => heard.push(['mine', m]));
dc.channel('mine').publish('own');
export default heard;

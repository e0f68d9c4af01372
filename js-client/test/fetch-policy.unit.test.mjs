// Sandbox::allow_fetch: pattern matching, and guardedFetch checking every
// hop of a redirect chain against a local server.

import { describe, it, before, after, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { config } from '../src/02_config.mjs';
import { parseFetchPattern, fetchAllowed, guardedFetch } from '../src/09_fetch_policy.mjs';

function allow(...patterns) {
  config.fetchAllow = patterns.map(parseFetchPattern);
}

describe('fetchAllowed', () => {
  afterEach(() => allow());

  it('allows nothing but data: and blob: URLs by default', () => {
    assert.equal(fetchAllowed('https://example.test/'), false);
    assert.equal(fetchAllowed('data:text/plain,hi'), true);
    assert.equal(fetchAllowed('blob:nodedata:1234'), true);
  });

  it('matches scheme, host and port exactly', () => {
    allow('https://api.example.test');
    assert.equal(fetchAllowed('https://api.example.test/any/path?q=1'), true);
    assert.equal(fetchAllowed('http://api.example.test/'), false);
    assert.equal(fetchAllowed('https://api.example.test:8443/'), false);
    assert.equal(fetchAllowed('https://example.test/'), false);
    assert.equal(fetchAllowed('https://api.example.test.evil/'), false);
  });

  it('matches subdomains of a *. pattern, and not the bare domain', () => {
    allow('https://*.example.test');
    assert.equal(fetchAllowed('https://a.example.test/'), true);
    assert.equal(fetchAllowed('https://a.b.example.test/'), true);
    assert.equal(fetchAllowed('https://example.test/'), false);
    assert.equal(fetchAllowed('https://badexample.test/'), false);
  });

  it('reads a trailing /* as the prefix before it, the glob users write', () => {
    allow('http://127.0.0.1:8080/*', 'https://api.example.test/v1/*');
    assert.equal(fetchAllowed('http://127.0.0.1:8080/'), true);
    assert.equal(fetchAllowed('http://127.0.0.1:8080/a/b?c=1'), true);
    assert.equal(fetchAllowed('http://127.0.0.1:8081/'), false);
    assert.equal(fetchAllowed('https://api.example.test/v1/users'), true);
    assert.equal(fetchAllowed('https://api.example.test/v2/users'), false);
    assert.throws(() => parseFetchPattern('https://api.example.test/v1/*/items'), /\*/);
  });

  it('checks WebSocket URLs as the HTTP ones they upgrade from', () => {
    allow('https://stream.example.test', 'http://127.0.0.1:9000');
    assert.equal(fetchAllowed('wss://stream.example.test/feed'), true);
    assert.equal(fetchAllowed('ws://stream.example.test/feed'), false);
    assert.equal(fetchAllowed('ws://127.0.0.1:9000/'), true);
    assert.equal(fetchAllowed('wss://other.example.test/'), false);
  });

  it('matches a path prefix by whole segments', () => {
    allow('https://example.test/v1');
    assert.equal(fetchAllowed('https://example.test/v1'), true);
    assert.equal(fetchAllowed('https://example.test/v1/users'), true);
    assert.equal(fetchAllowed('https://example.test/v10'), false);
    assert.equal(fetchAllowed('https://example.test/v2/x'), false);
    allow('https://example.test/v1/');
    assert.equal(fetchAllowed('https://example.test/v1/users'), true);
  });

  it('parses a port and refuses a pattern that is not a URL', () => {
    assert.deepEqual(parseFetchPattern('http://*.local.test:8080/api/'),
      { protocol: 'http:', host: '.local.test', wildcard: true, port: '8080', path: '/api/' });
    assert.throws(() => parseFetchPattern('not a url'));
  });
});

describe('guardedFetch', () => {
  const servers = [];
  let base;
  let other;
  const seen = [];
  const handle = (request, response) => {
    seen.push({ url: request.url, method: request.method, authorization: request.headers.authorization });
    const [, what, arg] = request.url.split('/');
    if (what === 'to') {
      response.writeHead(Number(arg), { location: decodeURIComponent(request.url.split('/').slice(3).join('/')) });
      return response.end();
    }
    response.end(`${request.method} ${request.url}`);
  };
  const listen = async () => {
    const server = http.createServer(handle);
    servers.push(server);
    await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
    return `http://127.0.0.1:${server.address().port}`;
  };
  before(async () => {
    base = await listen();
    // Another port is another origin.
    other = await listen();
  });
  after(() => {
    allow();
    for (const server of servers) server.close();
  });

  const to = (status, target) => `${base}/to/${status}/${encodeURIComponent(target)}`;

  it('refuses a URL outside the allowlist before connecting', async () => {
    allow('http://localhost');
    const before = seen.length;
    await assert.rejects(guardedFetch(`${base}/x`, {}), /fetch refused: http:\/\/127\.0\.0\.1:\d+\/x is not allowed by the sandbox/);
    assert.equal(seen.length, before);
  });

  it('follows allowed redirects, and refuses one that leaves the allowlist', async () => {
    allow(`${base}/to`, `${base}/ok`);
    const response = await guardedFetch(to(302, `${base}/ok/1`), {});
    assert.equal(await response.text(), 'GET /ok/1');
    await assert.rejects(guardedFetch(to(307, `${base}/secret`), {}, (message) => new RangeError(message)), (error) => {
      assert.ok(error instanceof RangeError, 'not the caller\'s error type');
      assert.match(error.message, /^fetch refused: a redirect to http:\/\/127\.0\.0\.1:\d+\/secret is not allowed/);
      return true;
    });
  });

  it('turns a POST into a GET on 303, and leaves manual redirects to the caller', async () => {
    allow(base);
    const response = await guardedFetch(to(303, `${base}/ok/after-post`), { method: 'POST', body: 'x' });
    assert.equal(await response.text(), 'GET /ok/after-post');
    const manual = await guardedFetch(to(302, `${base}/ok`), { redirect: 'manual' }, Error);
    assert.equal(manual.status, 302);
    await assert.rejects(guardedFetch(to(302, `${base}/ok`), { redirect: 'error' }, Error), /redirect mode is "error"/);
  });

  it('drops credentials on a redirect to another origin', async () => {
    allow(base, other);
    const response = await guardedFetch(to(302, `${other}/ok/cross`), { headers: { authorization: 'Bearer t' } }, Error);
    assert.equal(await response.text(), 'GET /ok/cross');
    const hops = seen.slice(-2);
    assert.equal(hops[0].authorization, 'Bearer t');
    assert.equal(hops[1].authorization, undefined);
  });
});

// What `fetch` may reach: the `Sandbox::allow_fetch` patterns, checked on
// every URL a request goes to, redirects included.

import { config, engine } from './02_config.mjs';

/** WebSocket schemes are checked as the HTTP ones they upgrade from. */
const SCHEME_OF = { 'ws:': 'http:', 'wss:': 'https:' };
const schemeOf = (protocol) => SCHEME_OF[protocol] ?? protocol;

/**
 * A `Sandbox::allow_fetch` pattern, parsed once at `init` (the host has
 * checked its form): `/*` at the end of a path is the prefix before it.
 */
export function parseFetchPattern(pattern) {
  let text = String(pattern);
  if (text.endsWith('/*')) text = text.slice(0, -1);
  const url = new URL(text.replace('://*.', '://wildcard--.'));
  if (url.href.includes('*')) throw new TypeError(`${pattern} has a * where none is allowed`);
  const wildcard = url.hostname.startsWith('wildcard--.');
  return {
    protocol: schemeOf(url.protocol),
    host: wildcard ? url.hostname.slice('wildcard--'.length) : url.hostname,
    wildcard,
    port: url.port,
    path: url.pathname,
  };
}

/** Whether `fetch` (or a WebSocket) may reach `href` (already normalized by `Request` or `URL`). */
export function fetchAllowed(href) {
  const url = new URL(href);
  if (url.protocol === 'data:' || url.protocol === 'blob:') return true;
  const protocol = schemeOf(url.protocol);
  return config.fetchAllow.some((p) => p.protocol === protocol
    && p.port === url.port
    && (p.wildcard ? url.hostname.endsWith(p.host) : url.hostname === p.host)
    && (p.path === '/' || url.pathname === p.path || url.pathname.startsWith(p.path.endsWith('/') ? p.path : p.path + '/')));
}

const REDIRECTS = new Set([301, 302, 303, 307, 308]);
const CREDENTIAL_HEADERS = ['authorization', 'cookie', 'proxy-authorization'];

/**
 * `fetch` that checks every URL, redirects included, against the allowlist:
 * the request is built once (so the URL checked is the URL fetched, whatever
 * getters the script put on its input) and redirects are followed here.
 */
export async function guardedFetch(input, options, refuse = (message) => new Error(message)) {
  const mode = options.redirect ?? (input instanceof Request ? input.redirect : 'follow');
  let request = new Request(input, { ...options, redirect: 'manual' });
  for (let hop = 0; ; hop++) {
    const url = request.url;
    if (!fetchAllowed(url)) {
      const how = hop > 0 ? 'a redirect to ' : '';
      throw refuse(`fetch refused: ${how}${url} is not allowed by the sandbox (Sandbox::allow_fetch)`);
    }
    const again = request.body !== null ? request.clone() : request;
    let response;
    try {
      response = await fetch(request);
    } catch (error) {
      // Deno's own network permission (`--allow-net`, made from the same
      // patterns) refused it: as refused here. Deno's fetch says so only in
      // the message of its error's cause.
      if (engine.deno && /Requires net access/.test(String(error?.cause?.message ?? error?.message))) {
        throw refuse(`fetch refused: ${url} is not allowed by the sandbox (Sandbox::allow_fetch)`);
      }
      throw error;
    }
    if (mode === 'manual' || !REDIRECTS.has(response.status)) return response;
    if (mode === 'error') throw new TypeError(`fetch failed: ${url} redirected and the request's redirect mode is "error"`);
    const location = response.headers.get('location');
    if (location === null) return response;
    await response.body?.cancel();
    if (hop >= 20) throw new TypeError(`fetch failed: more than 20 redirects from ${url}`);
    const next = new URL(location, url);
    const toGet = response.status === 303 || ((response.status === 301 || response.status === 302) && again.method === 'POST');
    const headers = new Headers(again.headers);
    if (next.origin !== new URL(url).origin) for (const name of CREDENTIAL_HEADERS) headers.delete(name);
    if (toGet) {
      headers.delete('content-type');
      headers.delete('content-length');
    }
    request = new Request(next.href, {
      method: toGet ? 'GET' : again.method,
      headers,
      body: toGet ? null : again.body,
      duplex: 'half',
      signal: options.signal,
      redirect: 'manual',
    });
  }
}

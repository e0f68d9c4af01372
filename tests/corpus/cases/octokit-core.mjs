// @octokit/core: a REST request and a GraphQL query through the SDK, with a
// fetch of our own (as its docs allow) that answers like GitHub, so nothing
// goes on the network; a 404 becomes a RequestError.
import { Octokit } from '@octokit/core';

const sent = [];
async function fakeFetch(input, init) {
  const request = new Request(input, init);
  sent.push({
    method: request.method,
    url: request.url,
    accept: request.headers.get('accept'),
    authorization: request.headers.get('authorization'),
    agent: request.headers.get('user-agent').split(' ')[0],
    body: init.body ? JSON.parse(init.body) : null,
  });
  if (request.url.endsWith('/repos/octo/missing')) {
    return new Response(JSON.stringify({ message: 'Not Found' }), { status: 404, headers: { 'content-type': 'application/json' } });
  }
  if (request.url.endsWith('/graphql')) {
    return new Response(JSON.stringify({ data: { viewer: { login: 'octocat' } } }), { status: 200, headers: { 'content-type': 'application/json' } });
  }
  return new Response(JSON.stringify({ full_name: 'octo/hello', stargazers_count: 42 }), { status: 200, headers: { 'content-type': 'application/json; charset=utf-8', 'x-ratelimit-remaining': '4999' } });
}

const octokit = new Octokit({ auth: 'secret-token', request: { fetch: fakeFetch } });
const repo = await octokit.request('GET /repos/{owner}/{repo}', { owner: 'octo', repo: 'hello' });
let missing = null;
try {
  await octokit.request('GET /repos/{owner}/{repo}', { owner: 'octo', repo: 'missing' });
} catch (error) {
  missing = { name: error.name, status: error.status, message: error.message };
}
const viewer = await octokit.graphql('query { viewer { login } }');

export default {
  repo: { status: repo.status, data: repo.data, remaining: repo.headers['x-ratelimit-remaining'] },
  missing,
  viewer,
  sent,
};

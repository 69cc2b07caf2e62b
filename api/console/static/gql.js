// The console's only door to data: POST graphql (the public API, run as the
// signed-in key) with the session's CSRF token. Counts requests per page so
// the tests and bench/console.py can hold each page to its budget.

let csrf = null;
const state = (window.__console = window.__console || { requests: 0, failed: [] });

export function setCsrf(token) { csrf = token; }

export class SignedOut extends Error {}

export class GqlError extends Error {
  constructor(errors) {
    super(errors.map((e) => e.message).join('; '));
    this.errors = errors;
  }
}

async function post(url, body, method = 'POST') {
  const headers = { 'content-type': 'application/json', accept: 'application/json' };
  if (csrf) headers['x-csrf-token'] = csrf;
  const response = await fetch(url, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), credentials: 'same-origin' });
  let payload = null;
  try { payload = await response.json(); } catch { payload = null; }
  return { response, payload };
}

// Run a query or mutation; returns `data`. Errors the API puts at the top
// level (a bad query, a role that may not) throw GqlError; a mutation's
// expected failures come back in its payload's `errors` and are the page's to show.
export async function gql(query, variables = {}) {
  state.requests += 1;
  const { response, payload } = await post('graphql', { query, variables });
  if (response.status === 401) throw new SignedOut();
  if (!payload) throw new GqlError([{ message: `HTTP ${response.status}` }]);
  if (payload.errors && payload.errors.length) throw new GqlError(payload.errors);
  return payload.data;
}

export async function session(method = 'GET', body) {
  return post('session', body, method);
}

export function resetCount() { state.requests = 0; }
export function requestCount() { return state.requests; }

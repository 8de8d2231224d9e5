// A small client of /api/v1: bearer token, one refresh on 401, RFC 9457 problems as errors.
// The base URL is configurable, so the same pages can be served from another origin.

/** The problem in words: its detail, and how much there is when it says (insufficient stock). */
function explain(status, problem) {
  const text = problem.detail || problem.title || `HTTP ${status}`;
  if (!Number.isInteger(problem.available)) return text;
  return `${text.replace(/\.?$/, ".")} Available: ${problem.available}.`;
}

/** An answer that was not a success: `problem` is the RFC 9457 body (or one made up). */
export class ApiError extends Error {
  constructor(status, problem) {
    super(explain(status, problem));
    this.name = "ApiError";
    this.status = status;
    this.problem = problem;
  }

  /** Per-field messages: the last name in each `errors[].loc`, mapped to its `msg`. */
  fieldErrors() {
    const fields = {};
    for (const error of this.problem.errors || []) {
      const loc = Array.isArray(error.loc) ? error.loc : [];
      const field = [...loc].reverse().find((part) => typeof part === "string");
      if (field && !(field in fields)) fields[field] = error.msg || "Invalid value";
    }
    return fields;
  }
}

/**
 * A refusal that another attempt may turn into a success (the server was busy, failing or
 * unreachable through a proxy, or still running the same key), as a network error may be.
 */
export function transient(error) {
  if (!(error instanceof ApiError)) return true;
  const type = error.problem.type || "";
  return (
    error.status === 401 ||
    error.status === 408 ||
    error.status === 429 ||
    error.status >= 500 ||
    type.endsWith("/idempotency-key-in-flight")
  );
}

/** The body of a failed response as a problem: problem JSON, an OAuth2 error, or a stand-in. */
export async function readProblem(response) {
  const type = response.headers.get("content-type") || "";
  if (type.includes("json")) {
    try {
      const body = await response.json();
      if (body && typeof body === "object") {
        if (body.error && !body.title) {
          // RFC 6749 §5.2, from the token endpoint.
          return {
            title: body.error,
            status: response.status,
            detail: body.error_description || body.error,
          };
        }
        return body;
      }
    } catch {
      // fall through to the stand-in
    }
  }
  return { title: response.statusText || "Error", status: response.status };
}

/** The base URL joined with a path that starts with "/api/v1" (no double slashes). */
export function joinUrl(baseUrl, path) {
  return `${(baseUrl || "").replace(/\/+$/, "")}${path}`;
}

/**
 * `session` supplies `freshAccessToken()` and `refresh()` (see session.js).
 * `request(path, options)` resolves to the parsed JSON body (or null), and rejects with an
 * ApiError for any non-2xx answer, or a TypeError when the network failed.
 */
export function createApi({ baseUrl = "", session }) {
  async function send(path, { method = "GET", body, headers = {}, signal } = {}) {
    const all = { Accept: "application/json", ...headers };
    const token = await session.freshAccessToken();
    if (token) all.Authorization = `Bearer ${token}`;
    let payload;
    if (body !== undefined) {
      all["Content-Type"] = "application/json";
      payload = JSON.stringify(body);
    }
    return fetch(joinUrl(baseUrl, path), {
      method,
      headers: all,
      body: payload,
      signal,
      credentials: "omit",
      cache: "no-store",
    });
  }

  /** Resolves to `{ data, headers }`: the parsed JSON body (or null) and the headers. */
  async function exchange(path, options = {}) {
    let response = await send(path, options);
    let refreshed = null;
    if (response.status === 401 && session.canRefresh()) {
      refreshed = await session.refresh();
      if (refreshed) response = await send(path, options);
    }
    if (!response.ok) {
      const problem = await readProblem(response);
      // Refused even after a refresh, or with nothing to refresh: the session is over. A
      // refresh that failed for now (offline, server busy) keeps it for the next try.
      const failedForNow = refreshed === false && session.isLoggedIn();
      if (response.status === 401 && !failedForNow) session.expired();
      throw new ApiError(response.status, problem);
    }
    const type = response.headers.get("content-type") || "";
    const data = response.status !== 204 && type.includes("json") ? await response.json() : null;
    return { data, headers: response.headers };
  }

  async function request(path, options = {}) {
    return (await exchange(path, options)).data;
  }

  /** Every item of a paged list, following `next_cursor` (at most `maxPages` pages). */
  async function all(path, { maxPages = 20 } = {}) {
    const items = [];
    let cursor = null;
    for (let page = 0; page < maxPages; page += 1) {
      const separator = path.includes("?") ? "&" : "?";
      const url = cursor ? `${path}${separator}cursor=${encodeURIComponent(cursor)}` : path;
      const body = await request(url);
      items.push(...body.items);
      cursor = body.next_cursor;
      if (!cursor) break;
    }
    return items;
  }

  return { request, exchange, all, baseUrl };
}

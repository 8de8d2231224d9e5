// The login session: OAuth2 password grant, refresh-token rotation, logout.
// Tokens live in memory and in sessionStorage (this tab only, gone with it), never in
// local storage (which outlives the tab and is shared by every tab of the origin).

import { ApiError, joinUrl, readProblem } from "./api.js";

const STORAGE_KEY = "stockroom.console.session";
const TOKEN_PATH = "/api/v1/auth/token";
const LOGOUT_PATH = "/api/v1/auth/logout";

function load() {
  try {
    const stored = JSON.parse(sessionStorage.getItem(STORAGE_KEY) || "null");
    if (stored && stored.access_token && stored.refresh_token) return stored;
  } catch {
    // unreadable: start logged out
  }
  return null;
}

/**
 * A session with `login`, `logout`, `refresh`, `accessToken`; it dispatches "change" on
 * itself when the user logs in or out, or when the session ends on its own.
 */
export function createSession({ baseUrl = "" }) {
  const events = new EventTarget();
  let tokens = load();
  let refreshing = null;

  function store(next) {
    tokens = next;
    try {
      if (next) sessionStorage.setItem(STORAGE_KEY, JSON.stringify(next));
      else sessionStorage.removeItem(STORAGE_KEY);
    } catch {
      // storage refused (private mode, quota): memory still holds the tokens
    }
    events.dispatchEvent(new Event("change"));
  }

  async function grant(fields) {
    const response = await fetch(joinUrl(baseUrl, TOKEN_PATH), {
      method: "POST",
      headers: { "Content-Type": "application/x-www-form-urlencoded", Accept: "application/json" },
      body: new URLSearchParams(fields),
      credentials: "omit",
      cache: "no-store",
    });
    if (!response.ok) throw new ApiError(response.status, await readProblem(response));
    const body = await response.json();
    return {
      access_token: body.access_token,
      refresh_token: body.refresh_token,
      expires_at: Date.now() + body.expires_in * 1000,
      username: fields.username || (tokens && tokens.username) || "",
    };
  }

  async function login(username, password) {
    store(await grant({ grant_type: "password", username, password }));
  }

  /** One refresh at a time; resolves true when a new access token was obtained. */
  function refresh() {
    if (!tokens) return Promise.resolve(false);
    if (!refreshing) {
      const refreshToken = tokens.refresh_token;
      refreshing = grant({ grant_type: "refresh_token", refresh_token: refreshToken })
        .then((next) => {
          store(next);
          return true;
        })
        .catch((error) => {
          // Refused (400 invalid_grant): the session is over. A network error keeps it.
          if (error instanceof ApiError) store(null);
          return false;
        })
        .finally(() => {
          refreshing = null;
        });
    }
    return refreshing;
  }

  async function logout() {
    const current = tokens;
    store(null);
    if (!current) return;
    try {
      await fetch(joinUrl(baseUrl, LOGOUT_PATH), {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ refresh_token: current.refresh_token }),
        credentials: "omit",
        cache: "no-store",
      });
    } catch {
      // offline: the tokens are gone from this tab; the session expires on the server
    }
  }

  return {
    login,
    logout,
    refresh,
    accessToken: () => (tokens ? tokens.access_token : null),
    canRefresh: () => Boolean(tokens && tokens.refresh_token),
    isLoggedIn: () => Boolean(tokens),
    username: () => (tokens ? tokens.username : ""),
    /** The API refused even a refreshed token: forget it. */
    expired: () => {
      if (tokens) store(null);
    },
    addEventListener: (type, listener) => events.addEventListener(type, listener),
  };
}

// The login session: OAuth2 password grant, refresh-token rotation, logout.
// Tokens live in memory and in sessionStorage (this tab only, gone with it), never in
// local storage (which outlives the tab). Tabs of the console share one session over a
// BroadcastChannel: a new tab asks the others for it, and a login, refresh or logout in one
// tab reaches them all. Refreshes are taken one tab at a time (Web Locks), and a tab that
// waited adopts the tokens another tab just obtained instead of spending its own; two tabs
// that still present one refresh token at once both get the same successor (the server's
// reuse grace), so neither is logged out.

import { ApiError, joinUrl, readProblem } from "./api.js";

const STORAGE_KEY = "stockroom.console.session";
const CHANNEL = "stockroom.console.session";
const LOCK = "stockroom.console.refresh";
const TOKEN_PATH = "/api/v1/auth/token";
const LOGOUT_PATH = "/api/v1/auth/logout";
// How long a tab that opens waits for the other tabs' session (newer than what it stored,
// when it was restored) before it shows anything or sends a request.
const ASK_MS = 200;
// Refresh this long before the access token expires (at most half its lifetime) rather
// than wait for a 401.
const EARLY_MS = 60000;

function load() {
  try {
    const stored = JSON.parse(sessionStorage.getItem(STORAGE_KEY) || "null");
    if (stored && stored.access_token && stored.refresh_token) return stored;
  } catch {
    // unreadable: start logged out
  }
  return null;
}

function save(tokens) {
  try {
    if (tokens) sessionStorage.setItem(STORAGE_KEY, JSON.stringify(tokens));
    else sessionStorage.removeItem(STORAGE_KEY);
  } catch {
    // storage refused (private mode, quota): memory still holds the tokens
  }
}

function withLock(work) {
  return navigator.locks ? navigator.locks.request(LOCK, work) : work();
}

/**
 * A session with `login`, `logout`, `refresh`, `freshAccessToken`; it dispatches "change" on
 * itself when the user logs in or out (here or in another tab), or the session ends.
 * `ready` resolves once the session is known (another tab's answer, or none in time).
 */
export function createSession({ baseUrl = "" }) {
  const events = new EventTarget();
  const channel = "BroadcastChannel" in window ? new BroadcastChannel(CHANNEL) : null;
  let tokens = load();
  const loaded = Boolean(tokens);
  let refreshing = null;

  function store(next, { share = true } = {}) {
    tokens = next;
    save(next);
    if (share && channel) channel.postMessage(next ? { type: "tokens", tokens: next } : { type: "logout" });
    events.dispatchEvent(new Event("change"));
  }

  function newer(other) {
    return !tokens || other.obtained_at > tokens.obtained_at;
  }

  // A tab restored from sessionStorage may hold a refresh token the other tabs have since
  // rotated (presenting it late would end the session): it asks too, and waits as long.
  let answered = null;
  const ready = new Promise((resolve) => {
    answered = resolve;
    if (!channel) resolve();
    else setTimeout(resolve, ASK_MS);
  });

  if (channel) {
    channel.addEventListener("message", ({ data }) => {
      if (!data || typeof data !== "object") return;
      if (data.type === "ask" && tokens) {
        channel.postMessage({ type: "tokens", tokens });
      } else if (data.type === "tokens" && data.tokens && newer(data.tokens)) {
        store(data.tokens, { share: false });
        if (!loaded) answered(); // a tab that had none need not wait for more answers
      } else if (data.type === "logout" && tokens) {
        store(null, { share: false });
      }
    });
    channel.postMessage({ type: "ask" });
  }

  async function grant(fields) {
    const response = await fetch(joinUrl(baseUrl, TOKEN_PATH), {
      method: "POST",
      headers: { "Content-Type": "application/x-www-form-urlencoded", Accept: "application/json" },
      body: new URLSearchParams(fields),
      // Same origin: the HttpOnly device cookie (only this endpoint gets it) is kept and sent
      // back, so a lockout of the account for new devices never shuts this browser out.
      credentials: "same-origin",
      cache: "no-store",
    });
    if (!response.ok) throw new ApiError(response.status, await readProblem(response));
    const body = await response.json();
    const now = Date.now();
    return {
      access_token: body.access_token,
      refresh_token: body.refresh_token,
      obtained_at: now,
      expires_at: now + body.expires_in * 1000,
      username: fields.username || (tokens && tokens.username) || "",
    };
  }

  async function login(username, password) {
    store(await grant({ grant_type: "password", username, password }));
  }

  /** One refresh at a time, across tabs; resolves true when a usable token is held. */
  function refresh() {
    if (!tokens) return Promise.resolve(false);
    if (!refreshing) {
      const used = tokens.refresh_token;
      refreshing = withLock(async () => {
        // While this tab waited for the lock, another may have refreshed and shared it.
        if (!tokens) return false;
        if (tokens.refresh_token !== used) return true;
        try {
          const next = await grant({ grant_type: "refresh_token", refresh_token: used });
          // Logged out, or in as someone else, while it ran: that session stands.
          if (!tokens || tokens.refresh_token !== used) return Boolean(tokens);
          store(next);
          return true;
        } catch (error) {
          // Refused (400 invalid_grant): the session is over. A network error or a busy
          // server (429, 5xx) keeps it for the next try.
          if (error instanceof ApiError && error.status === 400 && tokens?.refresh_token === used) {
            store(null);
          }
          return false;
        }
      }).finally(() => {
        refreshing = null;
      });
    }
    return refreshing;
  }

  /** The access token to send: refreshed first when it is about to expire. */
  async function freshAccessToken() {
    if (tokens) {
      const early = Math.min(EARLY_MS, (tokens.expires_at - tokens.obtained_at) / 2);
      if (tokens.expires_at - Date.now() < early) await refresh();
    }
    return tokens ? tokens.access_token : null;
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
      // offline: the tokens are gone from every tab; the session expires on the server
    }
  }

  return {
    ready,
    login,
    logout,
    refresh,
    freshAccessToken,
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

// Live movements: a stream ticket, then an EventSource on /api/v1/stock/events?ticket=.
// EventSource reconnects by itself while its ticket is valid (with Last-Event-ID); once it
// gives up (a 401 when the ticket expired: readyState CLOSED), get a new ticket and reopen.

import { joinUrl } from "./api.js";

const TICKETS = "/api/v1/auth/stream-tickets";
const EVENTS = "/api/v1/stock/events";
const MAX_DELAY_MS = 30000;

export function followMovements({ api, status, onMovement, onReconnect }) {
  let source = null;
  let closed = false;
  let delay = 1000;
  let timer = null;
  let opened = false;

  function show(text, isLive) {
    // Offline, that is the reason whatever the stream reports.
    const offline = !navigator.onLine && !closed;
    status.textContent = offline ? "Offline: live updates paused" : text;
    status.classList.toggle("is-live", isLive && !offline);
  }

  function retry() {
    if (closed) return;
    show("Live updates paused: reconnecting…", false);
    timer = setTimeout(open, delay);
    delay = Math.min(delay * 2, MAX_DELAY_MS);
  }

  async function open() {
    timer = null;
    if (closed) return;
    let ticket;
    try {
      ticket = (await api.request(TICKETS, { method: "POST" })).ticket;
    } catch {
      retry();
      return;
    }
    if (closed) return;
    const url = joinUrl(api.baseUrl, `${EVENTS}?ticket=${encodeURIComponent(ticket)}`);
    source = new EventSource(url);
    source.addEventListener("open", () => {
      delay = 1000;
      show("Live", true);
      if (opened && onReconnect) onReconnect();
      opened = true;
    });
    source.addEventListener("movement", (event) => {
      try {
        onMovement(JSON.parse(event.data));
      } catch {
        // not a movement we can read: the next reload shows it
      }
    });
    source.addEventListener("error", () => {
      if (source.readyState === EventSource.CLOSED) {
        source.close();
        source = null;
        retry();
      } else {
        show("Live updates paused: reconnecting…", false);
      }
    });
  }

  // The browser knows before the stream does when the network comes and goes: back
  // online, a reconnection waiting out its backoff goes at once.
  const offline = () => show("", false);
  const online = () => {
    if (source && source.readyState === EventSource.OPEN) {
      show("Live", true);
    } else if (timer) {
      clearTimeout(timer);
      delay = 1000;
      open();
    } else {
      show("Live updates paused: reconnecting…", false);
    }
  };
  window.addEventListener("offline", offline);
  window.addEventListener("online", online);

  open();
  return {
    close() {
      closed = true;
      window.removeEventListener("offline", offline);
      window.removeEventListener("online", online);
      if (timer) clearTimeout(timer);
      if (source) source.close();
      source = null;
      show("Not live", false);
    },
  };
}

// Postings that could not be sent yet (offline, or the answer was lost) wait in IndexedDB
// with the Idempotency-Key they were given, and are sent again, oldest first, when the
// connection returns. Sending one again is safe: the server answers a key it has seen with
// the original response and writes nothing. One tab sends at a time (Web Locks); every tab
// shows the same list (a BroadcastChannel says when it changed).

import { transient } from "./api.js";

const DATABASE = "stockroom.console";
const STORE = "outbox";
const LOCK = "stockroom.console.outbox";
const CHANNEL = "stockroom.console.outbox";
const RETRY_MS = 15000;
// The server remembers an Idempotency-Key for 24 hours: an older posting sent again could be
// taken twice, so it is held for the user to check the ledger (and discard it) instead.
const STALE_MS = 23 * 60 * 60 * 1000;

function opened() {
  return new Promise((resolve, reject) => {
    const request = indexedDB.open(DATABASE, 1);
    request.onupgradeneeded = () => {
      request.result.createObjectStore(STORE, { keyPath: "key" });
    };
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error);
  });
}

async function run(mode, work) {
  const db = await opened();
  try {
    return await new Promise((resolve, reject) => {
      const transaction = db.transaction(STORE, mode);
      const result = work(transaction.objectStore(STORE));
      transaction.oncomplete = () => resolve(result.result);
      transaction.onerror = () => reject(transaction.error);
      transaction.onabort = () => reject(transaction.error);
    });
  } finally {
    db.close();
  }
}

function withLock(work) {
  return navigator.locks ? navigator.locks.request(LOCK, work) : work();
}

/**
 * `owner()` names the user whose entries are sent (keys are scoped per user). Calls
 * `onChange(entries)` whenever the list changes (an entry's `stale` is set when it is too old
 * to send safely), `onSent(entry, data)` for each posting the server took,
 * `onRefused(entry, error)` for one it refused for good, and `onHeld(error)` when a flush
 * stopped at a posting that still cannot go (null when nothing was held back).
 */
export function createOutbox({ api, owner, onChange, onSent, onRefused, onHeld }) {
  const channel = "BroadcastChannel" in window ? new BroadcastChannel(CHANNEL) : null;
  let timer = null;

  async function entries() {
    const all = await run("readonly", (store) => store.getAll());
    const now = Date.now();
    return all
      .filter((entry) => entry.owner === owner())
      .map((entry) => ({ ...entry, stale: now - entry.created_at > STALE_MS }))
      .sort((a, b) => a.created_at - b.created_at);
  }

  async function changed(share = true) {
    if (share && channel) channel.postMessage("changed");
    const list = await entries();
    onChange(list);
    if (timer) clearTimeout(timer);
    timer = list.length ? setTimeout(flush, RETRY_MS) : null;
    return list;
  }

  /**
   * Keeps a posting to send later; `entry`: key, path, body, a label to show, and the owner
   * it was made by (taken at submission: a refused refresh may have ended the session).
   */
  async function add(entry) {
    const stored = { ...entry, owner: entry.owner || owner(), created_at: Date.now() };
    await run("readwrite", (store) => store.put(stored));
    await changed();
    return stored;
  }

  async function remove(key) {
    await run("readwrite", (store) => store.delete(key));
  }

  /** Sends what waits, oldest first; stops at the first posting that still cannot go. */
  function flush() {
    if (!navigator.onLine || !owner()) return Promise.resolve();
    const who = owner();
    let held = null;
    return withLock(async () => {
      for (const entry of await entries()) {
        if (owner() !== who) break; // another user logged in meanwhile: their keys differ
        if (entry.stale) continue;
        try {
          const data = await api.request(entry.path, {
            method: "POST",
            body: entry.body,
            headers: { "Idempotency-Key": entry.key },
          });
          await remove(entry.key);
          onSent(entry, data);
        } catch (error) {
          if (transient(error)) {
            held = error;
            break;
          }
          await remove(entry.key);
          onRefused(entry, error);
        }
      }
    }).finally(async () => {
      await changed();
      if (onHeld) onHeld(held);
    });
  }

  if (channel) channel.addEventListener("message", () => changed(false));
  window.addEventListener("online", () => flush());

  /** The user gave up on a posting (it may never have reached the server). */
  async function discard(key) {
    await remove(key);
    await changed();
  }

  return { add, flush, discard, owner, refresh: () => changed(false) };
}

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
 * `onChange(entries)` whenever the list changes, `onSent(entry, data)` for each posting the
 * server took, and `onRefused(entry, error)` for one it refused for good.
 */
export function createOutbox({ api, owner, onChange, onSent, onRefused }) {
  const channel = "BroadcastChannel" in window ? new BroadcastChannel(CHANNEL) : null;
  let timer = null;

  async function entries() {
    const all = await run("readonly", (store) => store.getAll());
    return all
      .filter((entry) => entry.owner === owner())
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

  /** Keeps a posting to send later; `entry`: key, path, body and a label to show. */
  async function add(entry) {
    const stored = { ...entry, owner: owner(), created_at: Date.now() };
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
    return withLock(async () => {
      for (const entry of await entries()) {
        if (owner() !== who) break; // another user logged in meanwhile: their keys differ
        try {
          const data = await api.request(entry.path, {
            method: "POST",
            body: entry.body,
            headers: { "Idempotency-Key": entry.key },
          });
          await remove(entry.key);
          onSent(entry, data);
        } catch (error) {
          if (transient(error)) break;
          await remove(entry.key);
          onRefused(entry, error);
        }
      }
    }).finally(() => changed());
  }

  if (channel) channel.addEventListener("message", () => changed(false));
  window.addEventListener("online", () => flush());

  /** The user gave up on a posting (it may never have reached the server). */
  async function discard(key) {
    await remove(key);
    await changed();
  }

  return { add, flush, discard, refresh: () => changed(false) };
}

// The posting form: a receipt, issue or adjustment (POST /stock/movements) or a transfer
// (POST /stock/transfers), each submission with an Idempotency-Key of its own. A posting
// that cannot reach the server (offline, or the answer was lost) goes to the outbox with
// that key and is sent when the connection returns, so it is never posted twice.

import { ApiError, transient } from "./api.js";

const MOVEMENTS = "/api/v1/stock/movements";
const TRANSFERS = "/api/v1/stock/transfers";
const FIELDS = ["kind", "product_id", "location_id", "to_location_id", "quantity", "reason"];
// The API names the source location differently for a transfer.
const ALIASES = { from_location_id: "location_id" };
const VERBS = { receipt: "Receive", issue: "Issue", adjustment: "Adjust", transfer: "Transfer" };
// The same posting submitted again this soon after the last one finished is the second
// click of a double click, not a new posting.
const QUIET_MS = 600;

export function fillSelect(select, items, label) {
  const kept = select.value;
  const placeholder = document.createElement("option");
  placeholder.value = "";
  placeholder.textContent = "Choose…";
  const options = items.map((item) => {
    const option = document.createElement("option");
    option.value = item.id;
    option.textContent = label(item);
    return option;
  });
  select.replaceChildren(placeholder, ...options);
  if (kept && items.some((item) => item.id === kept)) select.value = kept;
}

/** What the form holds, as the path and body to post; a label describes it in the outbox. */
function posting(data, names) {
  const kind = String(data.get("kind") || "receipt");
  const raw = String(data.get("quantity") || "").trim();
  // Sent as typed when it is no whole number, so the server's message names the rule.
  const quantity = /^-?\d+$/.test(raw) ? Number(raw) : raw;
  const product = String(data.get("product_id") || "");
  const from = String(data.get("location_id") || "");
  const reference = String(data.get("reference") || "").trim() || null;
  const label = `${VERBS[kind] || kind} ${raw} × ${names.product(product)}`;
  if (kind === "transfer") {
    const to = String(data.get("to_location_id") || "");
    return {
      path: TRANSFERS,
      label: `${label}: ${names.location(from)} → ${names.location(to)}`,
      body: { product_id: product, from_location_id: from, to_location_id: to, quantity, reference },
    };
  }
  const body = { product_id: product, location_id: from, kind, quantity, reference };
  if (kind === "adjustment") body.reason = String(data.get("reason") || "") || null;
  return { path: MOVEMENTS, label: `${label} at ${names.location(from)}`, body };
}

function describe(data) {
  if (data && Array.isArray(data.movements)) {
    const [out, into] = data.movements;
    return `Moved ${into.quantity}; ${out.balance_after} left at the source, ${into.balance_after} at the destination.`;
  }
  return `Posted ${data.quantity > 0 ? "+" : ""}${data.quantity}; on hand now ${data.balance_after}.`;
}

function unsure(error) {
  if (error instanceof ApiError) return `Not posted yet: the server answered ${error.status}.`;
  return "The server did not answer.";
}

/**
 * `elements`: form, submit, error, ok, locationLabel, transferOnly and adjustmentOnly
 * (wrappers shown for those kinds), and per field name its control and message. `outbox`
 * keeps what cannot be sent now; `names` turns ids into labels; `onPosted(data)` hears
 * each posting the server took (a movement, or a transfer with its two). The outbox reports
 * to the `sent(entry, data)` and `outboxChanged(entries)` it returns.
 */
export function createMovementForm({ api, elements, outbox, names, onPosted }) {
  let last = { fingerprint: "", until: 0, cleared: false };
  // A posting whose outcome is unknown and that the outbox could not take: sending the same
  // form again reuses its key, so the server cannot take it twice.
  let unsettled = null;
  // The key of the outbox entry the notice says will be sent, while it says so.
  let waiting = null;
  // The key of the posting the outbox is storing: until it is stored, a list without it
  // may have been read before it was added.
  let storing = null;

  function clearField(name) {
    elements.fields[name].control.removeAttribute("aria-invalid");
    elements.fields[name].message.textContent = "";
  }

  function clearErrors() {
    elements.error.textContent = "";
    elements.ok.textContent = "";
    waiting = null;
    FIELDS.forEach(clearField);
  }

  /**
   * A problem shown is about the form as it was: an edit makes its summary stale, and the
   * edited field's own message (another kind of posting: every field's).
   */
  function edited(event) {
    elements.error.textContent = "";
    const kind = event.target === elements.fields.kind.control;
    for (const name of FIELDS) {
      if (kind || elements.fields[name].control === event.target) clearField(name);
    }
  }

  function showProblem(error) {
    const unplaced = [];
    let first = null;
    for (const [name, message] of Object.entries(error.fieldErrors())) {
      const target = elements.fields[ALIASES[name] || name];
      if (!target) {
        unplaced.push(`${name}: ${message}`);
        continue;
      }
      target.control.setAttribute("aria-invalid", "true");
      target.message.textContent = message;
      first = first || target.control;
    }
    elements.error.textContent = [error.message, ...unplaced].join(" ");
    if (first) first.focus();
  }

  function showKind() {
    const kind = elements.fields.kind.control.value;
    elements.transferOnly.hidden = kind !== "transfer";
    elements.adjustmentOnly.hidden = kind !== "adjustment";
    elements.locationLabel.textContent = kind === "transfer" ? "From location" : "Location";
    elements.submit.textContent = `Post ${kind}`;
  }

  /** Hands the posting to the outbox; false when this browser could not store it. */
  async function keep(entry, why) {
    // Waited for from before it is stored: the outbox may send or refuse it while `add`
    // runs (the "online" event, another tab), and `sent` must know it is the one.
    waiting = entry.key;
    storing = entry.key;
    try {
      await outbox.add(entry);
    } catch {
      if (waiting === entry.key) waiting = null;
      elements.error.textContent = `${why} It could not be saved on this device either; post it again later.`;
      return false;
    } finally {
      storing = null;
    }
    if (waiting !== entry.key) return true; // sent meanwhile: the notice says so
    // A list read while it was being stored cannot tell whether it left: read it again
    // (`outboxChanged` hears it and drops the notice if it has gone).
    try {
      await outbox.refresh();
    } catch {
      // Unreadable now: it was stored, so it waits.
    }
    if (waiting === entry.key) {
      elements.ok.textContent = `${why} Saved on this device; it will be sent when the connection returns.`;
    }
    return true;
  }

  /** The outbox sent a posting: if the notice was about it, it says so. */
  function sent(entry, data) {
    if (entry.key !== waiting) return;
    waiting = null;
    elements.ok.textContent = `Sent: ${entry.label}. ${describe(data)}`;
  }

  /**
   * The outbox holds `entries`: a notice about one that left it otherwise (refused,
   * discarded, sent by another tab) no longer says it will be sent.
   */
  function outboxChanged(entries) {
    if (!waiting || waiting === storing || entries.some((entry) => entry.key === waiting)) return;
    waiting = null;
    elements.ok.textContent = "";
  }

  elements.fields.kind.control.addEventListener("change", showKind);
  // Not "change" as well: "input" hears every edit, and a typed-in field fires "change"
  // again only when it loses the focus.
  elements.form.addEventListener("input", edited);
  showKind();

  elements.form.addEventListener("submit", async (event) => {
    event.preventDefault();
    if (elements.submit.disabled) return;
    const quantity = elements.fields.quantity;
    const fingerprint = JSON.stringify([...new FormData(elements.form)]);
    // (A posting that went through left the quantity empty for the next one.)
    const empty = !quantity.control.value.trim();
    const repeated = fingerprint === last.fingerprint || (last.cleared && empty);
    if (repeated && Date.now() < last.until) return;
    clearErrors();
    const product = elements.fields.product_id;
    if (!new FormData(elements.form).get("product_id")) {
      // Text typed in the picker is no product until one is chosen from its list.
      product.control.setAttribute("aria-invalid", "true");
      product.message.textContent = "Choose a product: type its SKU, name or barcode, then pick it.";
      product.control.focus();
      return;
    }
    if (empty) {
      quantity.control.setAttribute("aria-invalid", "true");
      quantity.message.textContent = "Enter a quantity.";
      quantity.control.focus();
      return;
    }
    const { path, body, label } = posting(new FormData(elements.form), names);
    // One key per submission: a retry of this posting, now or from the outbox, is the same.
    const key = unsettled?.fingerprint === fingerprint ? unsettled.key : crypto.randomUUID();
    unsettled = null;
    const entry = { key, path, body, label, owner: outbox.owner() };
    elements.submit.disabled = true;
    elements.submit.setAttribute("aria-busy", "true");
    try {
      let done = true;
      if (!navigator.onLine) {
        done = await keep(entry, "You are offline.");
      } else {
        const data = await api.request(path, {
          method: "POST",
          body,
          headers: { "Idempotency-Key": entry.key },
        });
        elements.ok.textContent = describe(data);
        if (onPosted) onPosted(data);
      }
      if (done) quantity.control.value = "";
    } catch (error) {
      if (!transient(error)) {
        showProblem(error);
      } else if (await keep(entry, unsure(error))) {
        // No definite answer: the server may or may not have it; the key makes resending
        // safe.
        quantity.control.value = "";
      } else {
        unsettled = { fingerprint, key };
      }
    } finally {
      const cleared = !quantity.control.value;
      last = { fingerprint, until: Date.now() + QUIET_MS, cleared };
      elements.submit.disabled = false;
      elements.submit.removeAttribute("aria-busy");
    }
  });

  return { describe, sent, outboxChanged };
}

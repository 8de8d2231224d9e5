// The receipt form: POST /api/v1/stock/movements (kind receipt) with an Idempotency-Key.

import { ApiError } from "./api.js";

const MOVEMENTS = "/api/v1/stock/movements";
const FIELDS = ["product_id", "location_id", "quantity"];

function fillSelect(select, items, label) {
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
}

/** `elements`: form, submit, error, ok, and per field name its control and message. */
export function createReceiptForm({ api, elements, onPosted }) {
  // Kept while a submission's outcome is unknown (network failure), so sending the same
  // values again is the same request: the server answers it once.
  let pending = null;

  function clearErrors() {
    elements.error.textContent = "";
    for (const name of FIELDS) {
      elements.fields[name].control.removeAttribute("aria-invalid");
      elements.fields[name].message.textContent = "";
    }
  }

  function showProblem(error) {
    if (!(error instanceof ApiError)) {
      elements.error.textContent =
        "The server could not be reached; submit again to retry (it will not post twice).";
      return;
    }
    const unplaced = [];
    let first = null;
    for (const [field, message] of Object.entries(error.fieldErrors())) {
      const target = elements.fields[field];
      if (!target) {
        unplaced.push(`${field}: ${message}`);
        continue;
      }
      target.control.setAttribute("aria-invalid", "true");
      target.message.textContent = message;
      first = first || target.control;
    }
    elements.error.textContent = [error.problem.detail || error.message, ...unplaced].join(" ");
    if (first) first.focus();
  }

  async function loadChoices() {
    const [products, locations] = await Promise.all([
      api.request("/api/v1/products?is_archived=false&limit=100"),
      api.request("/api/v1/locations?is_archived=false&limit=100"),
    ]);
    fillSelect(elements.fields.product_id.control, products.items, (p) => `${p.sku} · ${p.name}`);
    fillSelect(elements.fields.location_id.control, locations.items, (l) => `${l.code} · ${l.name}`);
  }

  elements.form.addEventListener("submit", async (event) => {
    event.preventDefault();
    if (elements.submit.disabled) return;
    clearErrors();
    elements.ok.textContent = "";
    const data = new FormData(elements.form);
    const raw = String(data.get("quantity") || "").trim();
    const body = {
      product_id: String(data.get("product_id") || ""),
      location_id: String(data.get("location_id") || ""),
      kind: "receipt",
      // Sent as typed when it is no whole number, so the server's message names the rule.
      quantity: /^-?\d+$/.test(raw) ? Number(raw) : raw,
    };
    const fingerprint = JSON.stringify(body);
    if (!pending || pending.fingerprint !== fingerprint) {
      pending = { fingerprint, key: crypto.randomUUID() };
    }
    elements.submit.disabled = true;
    elements.submit.setAttribute("aria-busy", "true");
    try {
      const movement = await api.request(MOVEMENTS, {
        method: "POST",
        body,
        headers: { "Idempotency-Key": pending.key },
      });
      pending = null;
      elements.ok.textContent = `Received ${movement.quantity}; on hand now ${movement.balance_after}.`;
      elements.fields.quantity.control.value = "";
      if (onPosted) onPosted(movement);
    } catch (error) {
      // A definite answer ends this submission; the next one gets a new key.
      if (error instanceof ApiError) pending = null;
      showProblem(error);
    } finally {
      elements.submit.disabled = false;
      elements.submit.removeAttribute("aria-busy");
    }
  });

  return { loadChoices, showProblem };
}

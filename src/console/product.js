// The product editor: read a product and its ETag, then PATCH with If-Match, so a change
// made by someone else in between is refused (412) and shown instead of overwritten.

import { ApiError } from "./api.js";

const FIELDS = ["name", "unit_price", "reorder_point", "barcodes"];

/** `elements`: picker, form, submit, reload, error, ok, and per field its control and message. */
export function createProductEditor({ api, elements, onSaved }) {
  let loaded = null; // { id, etag }

  function clearErrors() {
    elements.error.textContent = "";
    elements.ok.textContent = "";
    elements.reload.hidden = true;
    for (const name of FIELDS) {
      elements.fields[name].control.removeAttribute("aria-invalid");
      elements.fields[name].message.textContent = "";
    }
  }

  function fill(product) {
    elements.fields.name.control.value = product.name;
    elements.fields.unit_price.control.value = product.unit_price ?? "";
    elements.fields.reorder_point.control.value = String(product.reorder_point);
    // Space-separated, as a scanner types them one after another; the list replaces the
    // product's (an empty field clears it).
    elements.fields.barcodes.control.value = product.barcodes.join(" ");
  }

  // An answer for a product no longer chosen is dropped.
  const chosen = (id) => elements.picker.value === id;

  async function open(id) {
    clearErrors();
    loaded = null;
    elements.form.hidden = !id;
    if (!id) return;
    try {
      const { data, headers } = await api.exchange(`/api/v1/products/${encodeURIComponent(id)}`);
      if (!chosen(id)) return;
      loaded = { id, etag: headers.get("etag") };
      fill(data);
    } catch (error) {
      if (!chosen(id)) return;
      elements.form.reset();
      elements.error.textContent = error.message;
    }
  }

  function showProblem(error) {
    if (error.status === 412) {
      elements.error.textContent =
        "Someone else changed this product after you opened it, so your edit was not saved. " +
        "Reload it to see their change, then edit again.";
      elements.reload.hidden = false;
      elements.reload.focus();
      return;
    }
    const unplaced = [];
    for (const [name, message] of Object.entries(error.fieldErrors())) {
      const target = elements.fields[name];
      if (!target) {
        unplaced.push(`${name}: ${message}`);
        continue;
      }
      target.control.setAttribute("aria-invalid", "true");
      target.message.textContent = message;
    }
    elements.error.textContent = [error.problem.detail || error.message, ...unplaced].join(" ");
  }

  elements.picker.addEventListener("change", () => open(elements.picker.value));
  elements.reload.addEventListener("click", () => open(elements.picker.value));

  elements.form.addEventListener("submit", async (event) => {
    event.preventDefault();
    if (!loaded || elements.submit.disabled) return;
    clearErrors();
    const price = elements.fields.unit_price.control.value.trim();
    const reorder = elements.fields.reorder_point.control.value.trim();
    const body = {
      name: elements.fields.name.control.value.trim(),
      unit_price: price || null,
      reorder_point: /^\d+$/.test(reorder) ? Number(reorder) : reorder,
      barcodes: elements.fields.barcodes.control.value.split(/\s+/).filter(Boolean),
    };
    elements.submit.disabled = true;
    try {
      const { data, headers } = await api.exchange(
        `/api/v1/products/${encodeURIComponent(loaded.id)}`,
        { method: "PATCH", body, headers: { "If-Match": loaded.etag } },
      );
      if (onSaved) onSaved(data);
      if (!chosen(data.id)) return;
      loaded = { id: data.id, etag: headers.get("etag") };
      fill(data);
      elements.ok.textContent = "Saved.";
    } catch (error) {
      if (error instanceof ApiError) showProblem(error);
      else elements.error.textContent = "The server could not be reached; save again to retry.";
    } finally {
      elements.submit.disabled = false;
    }
  });

  return { open };
}

// The API clients page, for admins: the clients, a form that creates one, and revoking.
// A new client's secret is shown once, in the page alone: it never goes to any storage, and
// dismissing the panel (or leaving the page) removes it. The server keeps only its hash.

import { ApiError } from "./api.js";

const PATH = "/api/v1/clients";
const FIELDS = ["name", "scopes", "rate_limit"];

function when(value) {
  return value ? new Date(value).toLocaleString() : "Never";
}

function cell(text, label) {
  const td = document.createElement("td");
  td.dataset.label = label;
  td.textContent = text;
  return td;
}

/**
 * `elements`: view, rows, empty, error, ok, reload; form, submit, formError, name, rateLimit,
 * scopes (the checkboxes), and per field its message (fieldMessages); secret: panel, id,
 * value, copy, dismiss, ok, error. `confirm(text)` asks before a revocation.
 */
export function createClients({ api, elements, confirm = (text) => window.confirm(text) }) {
  const { secret } = elements;
  // Bumped whenever the page is hidden: an answer that arrives after that is dropped.
  let shown = 0;

  function clearFormErrors() {
    elements.formError.textContent = "";
    for (const name of FIELDS) elements.fieldMessages[name].textContent = "";
    for (const control of [elements.name, elements.rateLimit]) {
      control.removeAttribute("aria-invalid");
    }
  }

  function row(client) {
    const tr = document.createElement("tr");
    tr.dataset.id = client.id;
    const id = cell("", "Client ID");
    const code = document.createElement("code");
    code.textContent = client.client_id;
    id.append(code);
    const revoked = Boolean(client.revoked_at);
    let active = client.is_active ? "Yes" : "No";
    if (revoked) active = "Revoked";
    tr.append(
      cell(client.name, "Name"),
      id,
      cell(client.scopes.join(" "), "Scopes"),
      cell(client.rate_limit || "Default", "Rate limit"),
      cell(active, "Active"),
      cell(when(client.last_used_at), "Last used"),
    );
    const actions = cell("", "Actions");
    if (!revoked) {
      const button = document.createElement("button");
      button.type = "button";
      button.className = "link";
      button.textContent = "Revoke";
      button.setAttribute("aria-label", `Revoke ${client.name}`);
      button.addEventListener("click", () => revoke(client, button));
      actions.append(button);
    }
    tr.append(actions);
    return tr;
  }

  async function load() {
    const ticket = shown;
    elements.error.textContent = "";
    try {
      const clients = await api.all(PATH);
      if (ticket !== shown) return;
      elements.rows.replaceChildren(...clients.map(row));
      elements.empty.hidden = clients.length > 0;
    } catch (error) {
      if (ticket !== shown) return;
      elements.error.textContent = error.message;
    }
  }

  async function revoke(client, button) {
    const question =
      `Revoke ${client.name} (${client.client_id})? Its tokens stop working at once ` +
      "and it cannot get new ones. This cannot be undone.";
    if (!confirm(question)) return;
    elements.ok.textContent = "";
    elements.error.textContent = "";
    button.disabled = true;
    try {
      await api.request(`${PATH}/${encodeURIComponent(client.id)}`, { method: "DELETE" });
      elements.ok.textContent = `Revoked ${client.name}.`;
    } catch (error) {
      // Already gone (another admin revoked it): the list below says so.
      if (!(error instanceof ApiError && error.status === 404)) {
        elements.error.textContent = error.message;
      }
      button.disabled = false;
    }
    await load();
  }

  function showSecret(client) {
    secret.id.textContent = client.client_id;
    secret.value.textContent = client.client_secret;
    secret.ok.textContent = "";
    secret.error.textContent = "";
    secret.panel.hidden = false;
    secret.panel.focus();
  }

  /** Removes the secret from the page: after this, nothing here holds it. */
  function hideSecret() {
    secret.id.textContent = "";
    secret.value.textContent = "";
    secret.ok.textContent = "";
    secret.error.textContent = "";
    secret.panel.hidden = true;
  }

  secret.copy.addEventListener("click", async () => {
    secret.ok.textContent = "";
    secret.error.textContent = "";
    try {
      await navigator.clipboard.writeText(secret.value.textContent);
      secret.ok.textContent = "Copied to the clipboard.";
    } catch {
      secret.error.textContent =
        "The browser did not allow copying: select the secret and copy it yourself.";
    }
  });

  secret.dismiss.addEventListener("click", () => {
    hideSecret();
    elements.name.focus();
  });

  elements.reload.addEventListener("click", () => load());

  function showProblem(error) {
    const unplaced = [];
    for (const [name, message] of Object.entries(error.fieldErrors())) {
      const target = elements.fieldMessages[name];
      if (!target) {
        unplaced.push(`${name}: ${message}`);
        continue;
      }
      target.textContent = message;
      if (name === "name") elements.name.setAttribute("aria-invalid", "true");
      if (name === "rate_limit") elements.rateLimit.setAttribute("aria-invalid", "true");
    }
    elements.formError.textContent = [error.problem.detail || error.message, ...unplaced].join(
      " ",
    );
  }

  elements.form.addEventListener("submit", async (event) => {
    event.preventDefault();
    if (elements.submit.disabled) return;
    clearFormErrors();
    elements.ok.textContent = "";
    const name = elements.name.value.trim();
    const scopes = elements.scopes.filter((box) => box.checked).map((box) => box.value);
    const rateLimit = elements.rateLimit.value.trim();
    if (!name) {
      elements.fieldMessages.name.textContent = "Enter a name.";
      elements.name.setAttribute("aria-invalid", "true");
      elements.name.focus();
      return;
    }
    if (scopes.length === 0) {
      elements.fieldMessages.scopes.textContent = "Choose at least one scope.";
      elements.scopes[0].focus();
      return;
    }
    const body = { name, scopes };
    if (rateLimit) body.rate_limit = rateLimit;
    const ticket = shown;
    elements.submit.disabled = true;
    try {
      const created = await api.request(PATH, { method: "POST", body });
      if (ticket !== shown) return;
      elements.form.reset();
      showSecret(created);
      elements.ok.textContent = `Created ${created.name}.`;
      await load();
    } catch (error) {
      if (ticket !== shown) return;
      if (error instanceof ApiError) showProblem(error);
      else elements.formError.textContent = "The server could not be reached; try again.";
    } finally {
      elements.submit.disabled = false;
    }
  });

  return {
    /** Shows the page (to an admin) and loads the clients. */
    show() {
      elements.view.hidden = false;
      return load();
    },
    /** Hides the page and forgets what it showed, the secret first. */
    hide() {
      shown += 1;
      hideSecret();
      clearFormErrors();
      elements.form.reset();
      elements.rows.replaceChildren();
      elements.ok.textContent = "";
      elements.error.textContent = "";
      elements.view.hidden = true;
    },
  };
}

// The console's entry point: wires the session, board, posting form, outbox, product
// editor, chart and (for admins) the API clients page to the page.

import { ApiError, createApi } from "./api.js";
import { createBoard } from "./board.js";
import { createCatalog } from "./catalog.js";
import { createChart } from "./chart.js";
import { createChoices } from "./choices.js";
import { createClients } from "./clients.js";
import { createMovementForm } from "./movement.js";
import { createOutbox } from "./outbox.js";
import { createPicker } from "./picker.js";
import { createProductEditor } from "./product.js";
import { createSession } from "./session.js";

const $ = (id) => document.getElementById(id);

function apiBase() {
  const meta = document.querySelector('meta[name="stockroom-api-base"]');
  return meta ? meta.content.trim() : "";
}

/** The control and message elements of each named field: `${prefix}-${id}` and its error. */
function fields(prefix, names) {
  return Object.fromEntries(
    Object.entries(names).map(([name, id]) => [
      name,
      { control: $(`${prefix}-${id}`), message: $(`${prefix}-${id}-error`) },
    ]),
  );
}

function boardFilters() {
  const params = {};
  if ($("filter-product-id").value) params.product_id = $("filter-product-id").value;
  if ($("filter-location").value) params.location_id = $("filter-location").value;
  if ($("filter-low").checked) params.below_reorder = "true";
  return params;
}

function showOutbox(entries, outbox) {
  $("outbox").hidden = entries.length === 0;
  $("outbox-list").replaceChildren(
    ...entries.map((entry) => {
      const item = document.createElement("li");
      item.className = "pending";
      item.dataset.key = entry.key;
      const label = document.createElement("span");
      label.textContent = entry.stale
        ? `${entry.label} (not sent: over a day old, it could post twice; check the ledger, then discard it)`
        : `${entry.label} (pending)`;
      const discard = document.createElement("button");
      discard.type = "button";
      discard.className = "link";
      discard.textContent = "Discard";
      discard.setAttribute("aria-label", `Discard: ${entry.label}`);
      discard.addEventListener("click", () => outbox.discard(entry.key));
      item.append(label, " ", discard);
      return item;
    }),
  );
}

function main() {
  const baseUrl = apiBase();
  const session = createSession({ baseUrl });
  const api = createApi({ baseUrl, session });

  const catalog = createCatalog({ api });
  const choices = createChoices({
    api,
    catalog,
    locationSelects: [$("post-location"), $("post-to-location"), $("filter-location")],
  });
  // Each picker is `${id}` (the field), `${id}-list`, `${id}-id` (the chosen id, under the
  // form field's name where there is one), `${id}-status` and, for the filter, `${id}-clear`.
  for (const id of ["post-product", "filter-product", "product-picker"]) {
    createPicker({
      api,
      catalog,
      elements: {
        input: $(id),
        list: $(`${id}-list`),
        value: $(`${id}-id`),
        status: $(`${id}-status`),
        clear: $(`${id}-clear`),
      },
    });
  }
  const chart = createChart({
    api,
    elements: {
      picker: $("product-picker-id"),
      svg: $("chart-svg"),
      summary: $("chart-summary"),
      error: $("chart-error"),
    },
  });
  const board = createBoard({
    api,
    filters: boardFilters,
    onMovement: (movement) => chart.onMovement(movement),
    seen: (product) => catalog.remember(product),
    elements: {
      rows: $("board-rows"),
      empty: $("board-empty"),
      error: $("board-error"),
      status: $("live-status"),
      first: $("page-first"),
      previous: $("page-previous"),
      next: $("page-next"),
      reload: $("page-reload"),
    },
  });
  const outbox = createOutbox({
    api,
    owner: () => session.username().toLowerCase(),
    onChange: (entries) => {
      showOutbox(entries, outbox);
      form.outboxChanged(entries);
    },
    onSent: (entry, data) => {
      $("outbox-error").textContent = "";
      form.sent(entry, data);
      // The live feed shows it too, unless the stream is still reconnecting.
      board.reload();
    },
    onRefused: (entry, error) => {
      $("outbox-error").textContent = `Not posted: ${entry.label}. ${error.message}`;
    },
    onHeld: (error) => {
      let note = "";
      if (error) {
        note = error.status
          ? `Still waiting: the server answered ${error.status}.`
          : "Still waiting: the server cannot be reached.";
      }
      $("outbox-note").textContent = note;
    },
  });
  const form = createMovementForm({
    api,
    outbox,
    names: choices.names,
    onPosted: (data) => {
      for (const movement of data.movements || [data]) board.show(movement);
    },
    elements: {
      form: $("post-form"),
      submit: $("post-submit"),
      error: $("post-error"),
      ok: $("post-ok"),
      transferOnly: $("post-transfer-only"),
      adjustmentOnly: $("post-adjustment-only"),
      locationLabel: $("post-location-label"),
      fields: fields("post", {
        kind: "kind",
        product_id: "product",
        location_id: "location",
        to_location_id: "to-location",
        quantity: "quantity",
        reason: "reason",
      }),
    },
  });
  createProductEditor({
    api,
    onSaved: () => board.reload(),
    elements: {
      picker: $("product-picker-id"),
      form: $("product-form"),
      submit: $("product-submit"),
      reload: $("product-reload"),
      error: $("product-error"),
      ok: $("product-ok"),
      fields: fields("product", {
        name: "name",
        unit_price: "unit-price",
        reorder_point: "reorder-point",
        barcodes: "barcodes",
      }),
    },
  });

  const clients = createClients({
    api,
    elements: {
      view: $("clients-view"),
      rows: $("clients-rows"),
      empty: $("clients-empty"),
      error: $("clients-error"),
      ok: $("clients-ok"),
      reload: $("clients-reload"),
      form: $("client-form"),
      submit: $("client-submit"),
      formError: $("client-error"),
      name: $("client-name"),
      rateLimit: $("client-rate-limit"),
      scopes: [...document.querySelectorAll('#client-form input[name="scopes"]')],
      fieldMessages: {
        name: $("client-name-error"),
        scopes: $("client-scopes-error"),
        rate_limit: $("client-rate-limit-error"),
      },
      secret: {
        panel: $("client-secret"),
        id: $("client-secret-id"),
        value: $("client-secret-value"),
        copy: $("client-secret-copy"),
        dismiss: $("client-secret-dismiss"),
        ok: $("client-secret-ok"),
        error: $("client-secret-error"),
      },
    },
  });

  for (const id of ["filter-product-id", "filter-location", "filter-low"]) {
    $(id).addEventListener("change", () => board.restart());
  }
  // Enter in the product filter chooses a product; the filters are never submitted.
  $("board-filters").addEventListener("submit", (event) => event.preventDefault());
  $("outbox-send").addEventListener("click", () => outbox.flush());

  // Whom the page was set up for: a login as someone else (in another tab) starts over.
  let working = null;

  /** The admin's pages, for an admin only (the API refuses anyone else anyway). */
  async function showAdminPages(who) {
    try {
      const me = await api.request("/api/v1/users/me");
      if (working === who && me.role === "admin") await clients.show();
    } catch {
      // not known to be an admin: the pages stay hidden
    }
  }

  async function showWork() {
    $("login-view").hidden = true;
    $("work-view").hidden = false;
    $("account").hidden = false;
    $("account-name").textContent = session.username();
    if (working === session.username()) return;
    if (working) {
      board.stop();
      clients.hide();
    }
    working = session.username();
    $("main").focus();
    showAdminPages(working);
    try {
      await choices.load();
    } catch (error) {
      $("post-error").textContent = error.message;
    }
    await board.start();
    await outbox.refresh();
    outbox.flush();
  }

  function showLogin() {
    if (working) board.stop();
    clients.hide();
    working = null;
    $("work-view").hidden = true;
    $("account").hidden = true;
    $("login-view").hidden = false;
    $("login-username").focus();
  }

  function render() {
    if (session.isLoggedIn()) showWork();
    else showLogin();
  }

  $("login-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const submit = $("login-submit");
    const error = $("login-error");
    error.textContent = "";
    const username = $("login-username").value.trim();
    const password = $("login-password").value;
    if (!username || !password) {
      error.textContent = "Enter your email and password.";
      return;
    }
    submit.disabled = true;
    try {
      await session.login(username, password);
      $("login-password").value = "";
    } catch (failure) {
      error.textContent =
        failure instanceof ApiError
          ? failure.message
          : "The server could not be reached; try again.";
    } finally {
      submit.disabled = false;
    }
  });

  $("logout").addEventListener("click", () => session.logout());
  session.addEventListener("change", render);
  session.ready.then(render);
}

main();

// The stock board: levels with their product and location, keyset paging, live updates.

import { ApiError } from "./api.js";
import { followMovements } from "./live.js";

const LEVELS = "/api/v1/stock/levels";
const PAGE_SIZE = 50;

function levelsUrl(params) {
  const query = new URLSearchParams({ expand: "product,location", ...params });
  return `${LEVELS}?${query}`;
}

function key(productId, locationId) {
  return `${productId}/${locationId}`;
}

// Column names, shown beside each value where a narrow screen stacks a row's cells.
const LABELS = ["SKU", "Product", "Location", "On hand", "Reserved", "Available", "Incoming"];

function cell(text, className) {
  const td = document.createElement("td");
  td.setAttribute("role", "cell");
  td.textContent = text;
  if (className) td.className = className;
  return td;
}

function isLow(level) {
  return Boolean(level.product) && level.on_hand < level.product.reorder_point;
}

function renderRow(level) {
  const row = document.createElement("tr");
  row.dataset.key = key(level.product_id, level.location_id);
  const product = level.product || {};
  const location = level.location || {};
  const sku = cell(product.sku || level.product_id);
  row.append(
    sku,
    cell(product.name || ""),
    cell(location.code || level.location_id),
    cell(String(level.on_hand), "num"),
    cell(String(level.reserved), "num"),
    cell(level.available === null ? "" : String(level.available), "num"),
    cell(String(level.incoming), "num"),
  );
  row.setAttribute("role", "row");
  [...row.cells].forEach((td, index) => {
    td.dataset.label = LABELS[index];
  });
  if (isLow(level)) {
    row.classList.add("is-low");
    const mark = document.createElement("span");
    mark.className = "low-mark";
    mark.textContent = "Below reorder point";
    mark.title = `Reorder point ${product.reorder_point}`;
    sku.append(mark);
  }
  return row;
}

/**
 * Shows one page of levels at a time in `elements.rows`; `start()` loads and goes live.
 * `filters()` gives the query's filters; `onMovement` hears every live movement too, and
 * `seen(product)` each product a row shows (so its id can be labelled later).
 */
export function createBoard({
  api,
  elements,
  filters = () => ({}),
  onMovement: heard,
  seen = () => {},
}) {
  // The cursors of the pages before this one (keyset paging goes forward only).
  let cursors = [null];
  let nextCursor = null;
  let loading = null;
  let queued = null;
  let live = null;
  // Per row, the newest refresh asked for: an older answer arriving later is dropped.
  const asked = new Map();
  // Bumped by stop(): a start() still loading when the user logged out opens no stream.
  let generation = 0;

  function showError(error) {
    elements.error.textContent = error ? error.message : "";
  }

  function updatePager() {
    const busy = Boolean(loading);
    elements.first.disabled = busy || cursors.length <= 1;
    elements.previous.disabled = busy || cursors.length <= 1;
    elements.next.disabled = busy || !nextCursor;
  }

  async function loadPage() {
    const cursor = cursors[cursors.length - 1];
    const params = { ...filters(), limit: String(PAGE_SIZE) };
    if (cursor) params.cursor = cursor;
    try {
      const page = await api.request(levelsUrl(params));
      nextCursor = page.next_cursor;
      for (const level of page.items) if (level.product) seen(level.product);
      elements.rows.replaceChildren(...page.items.map(renderRow));
      elements.empty.hidden = page.items.length > 0;
      showError(null);
    } catch (error) {
      if (error instanceof ApiError && error.problem.type?.endsWith("/cursor-expired")) {
        cursors = [null];
        return loadPage();
      }
      showError(error);
    }
    updatePager();
  }

  /** Reloads the page; calls that arrive while it loads share one extra reload. */
  function reload() {
    if (!loading) {
      loading = loadPage().finally(() => {
        loading = null;
        updatePager();
      });
      updatePager();
      return loading;
    }
    if (!queued) {
      queued = loading.then(() => {
        queued = null;
        return reload();
      });
    }
    return queued;
  }

  /** A movement arrived: refresh its row in place, or the page when the row is not shown. */
  async function onMovement(movement) {
    if (heard) heard(movement);
    const rowKey = key(movement.product_id, movement.location_id);
    const shown = elements.rows.querySelector(`tr[data-key="${CSS.escape(rowKey)}"]`);
    if (!shown) return reload();
    const mine = (asked.get(rowKey) || 0) + 1;
    asked.set(rowKey, mine);
    try {
      const page = await api.request(
        levelsUrl({
          ...filters(),
          product_id: movement.product_id,
          location_id: movement.location_id,
        }),
      );
      if (asked.get(rowKey) !== mine) return undefined;
      const level = page.items[0];
      const current = elements.rows.querySelector(`tr[data-key="${CSS.escape(rowKey)}"]`);
      if (!level || !current) return reload();
      if (level.product) seen(level.product);
      const row = renderRow(level);
      row.classList.add("is-updated");
      current.replaceWith(row);
      setTimeout(() => row.classList.remove("is-updated"), 2000);
    } catch (error) {
      showError(error);
    }
    return undefined;
  }

  /** The filters changed: back to the first page. */
  function restart() {
    cursors = [null];
    return reload();
  }

  elements.first.addEventListener("click", () => {
    cursors = [null];
    reload();
  });
  elements.previous.addEventListener("click", () => {
    if (cursors.length > 1) cursors.pop();
    reload();
  });
  elements.next.addEventListener("click", () => {
    if (!nextCursor) return;
    cursors.push(nextCursor);
    reload();
  });
  elements.reload.addEventListener("click", () => reload());

  return {
    reload,
    restart,
    /** A movement this page posted: shown at once, whether or not the stream is open. */
    show: onMovement,
    async start() {
      const mine = ++generation;
      cursors = [null];
      await reload();
      if (mine !== generation) return;
      live = followMovements({
        api,
        status: elements.status,
        onMovement,
        // A new stream starts from now: what happened while disconnected is on the page.
        onReconnect: () => reload(),
      });
    },
    stop() {
      generation += 1;
      if (live) live.close();
      live = null;
      elements.rows.replaceChildren();
    },
  };
}

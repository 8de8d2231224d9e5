// A product picker: a text field that searches the products as you type (a SKU, a name, or
// whatever else the server's search matches, such as a barcode) and a list to choose one
// from, instead of a select of every product, which cannot scale past a few hundred. An
// ARIA 1.2 combobox with list autocomplete: arrow keys move through the list, Enter chooses,
// Escape closes it; the mouse works too. The chosen id is the value of a hidden input, which
// fires "change" when it changes, so a form submits it like any other field.

import { productLabel } from "./catalog.js";

const SEARCH = "/api/v1/products";
const LIMIT = 20;
// Typing pauses this long before the search is sent: one request per pause, not per key.
const DEBOUNCE_MS = 200;
const MAX_TEXT = 200; // the longest search the API takes

/**
 * `elements`: input (the combobox), list (its listbox), value (the hidden input holding the
 * chosen id), status (a live region: how many were found, or why none), and an optional clear
 * button. `catalog` remembers the products found, and answers when the server cannot.
 */
export function createPicker({ api, catalog, elements }) {
  const { input, list, value, status, clear } = elements;
  let chosen = null; // the product chosen
  let results = []; // the products the list shows
  let active = -1; // the option the arrow keys are on
  let timer = null;
  let controller = null;
  let asked = 0; // only the newest search's answer is shown
  let searching = false;
  // Enter was pressed before the answer came (a scanner types a code, then Enter): a search
  // that finds exactly one product chooses it.
  let chooseSingle = false;

  const shownText = () => (chosen ? productLabel(chosen) : "");
  const edited = () => input.value !== shownText();

  function say(text) {
    status.textContent = text;
  }

  function close() {
    list.hidden = true;
    input.setAttribute("aria-expanded", "false");
    input.removeAttribute("aria-activedescendant");
    active = -1;
  }

  function setActive(index) {
    active = index;
    [...list.children].forEach((option, i) => {
      option.setAttribute("aria-selected", String(i === index));
    });
    const option = list.children[index];
    if (option) {
      input.setAttribute("aria-activedescendant", option.id);
      option.scrollIntoView({ block: "nearest" });
    } else {
      input.removeAttribute("aria-activedescendant");
    }
  }

  /** Stops the search waiting to be sent and drops the answer of the one sent. */
  function cancel() {
    clearTimeout(timer);
    timer = null;
    asked += 1;
    searching = false;
    chooseSingle = false;
    if (controller) controller.abort();
    controller = null;
  }

  function choose(product) {
    cancel();
    close();
    const before = value.value;
    chosen = product || null;
    if (chosen) catalog.remember(chosen);
    value.value = chosen ? chosen.id : "";
    input.value = shownText();
    if (clear) clear.hidden = !chosen;
    say("");
    if (value.value !== before) value.dispatchEvent(new Event("change", { bubbles: true }));
  }

  function show(items, more) {
    results = items;
    list.replaceChildren(
      ...items.map((product, index) => {
        const option = document.createElement("li");
        option.id = `${list.id}-${index}`;
        option.setAttribute("role", "option");
        option.setAttribute("aria-selected", "false");
        option.dataset.id = product.id;
        option.textContent = productLabel(product);
        return option;
      }),
    );
    if (!items.length) {
      close();
      say("No product matches.");
      return;
    }
    list.hidden = false;
    input.setAttribute("aria-expanded", "true");
    setActive(-1);
    const found = items.length === 1 ? "1 product" : `${items.length} products`;
    say(more ? `The first ${found} found; type more to narrow them down.` : `${found} found.`);
  }

  /** What the server finds for `text`; without it, what this page has seen. */
  async function search(text) {
    cancel();
    const mine = asked;
    controller = new AbortController();
    searching = true;
    const query = new URLSearchParams({ q: text, is_archived: "false", limit: String(LIMIT) });
    let items;
    let more = false;
    let offline = false;
    try {
      const page = await api.request(`${SEARCH}?${query}`, { signal: controller.signal });
      if (mine !== asked) return;
      items = page.items;
      more = Boolean(page.next_cursor);
      items.forEach(catalog.remember);
    } catch (error) {
      if (mine !== asked) return;
      if (error instanceof TypeError || !navigator.onLine) {
        // Unreachable: offer the products seen, so a posting can still be made offline.
        items = catalog.find(text, LIMIT);
        offline = true;
        if (!items.length) {
          searching = false;
          close();
          say("The server cannot be reached to search; only products seen before are offered.");
          return;
        }
      } else {
        searching = false;
        close();
        say(`The search failed: ${error.message}`);
        return;
      }
    }
    searching = false;
    controller = null;
    const single = chooseSingle;
    chooseSingle = false;
    if (single && items.length === 1) {
      choose(items[0]);
      return;
    }
    show(items, more);
    if (offline && items.length) {
      say(`${status.textContent} The server cannot be reached: only products seen before.`);
    }
  }

  function typed() {
    const text = input.value.trim().slice(0, MAX_TEXT);
    cancel();
    if (!text) {
      results = [];
      close();
      say("");
      return;
    }
    timer = setTimeout(() => search(text), DEBOUNCE_MS);
  }

  /** A search now, without waiting for the pause (an arrow key or Enter asked for one). */
  function searchNow() {
    const text = input.value.trim().slice(0, MAX_TEXT);
    if (text && (timer || !searching)) search(text);
  }

  function move(step) {
    if (list.hidden) {
      if (results.length && !timer && !searching) {
        list.hidden = false;
        input.setAttribute("aria-expanded", "true");
        setActive(step > 0 ? 0 : results.length - 1);
      } else if (edited()) {
        searchNow();
      }
      return;
    }
    const count = results.length;
    setActive(active < 0 && step < 0 ? count - 1 : (active + step + count) % count);
  }

  function onKey(event) {
    switch (event.key) {
      case "ArrowDown":
      case "ArrowUp":
        event.preventDefault();
        move(event.key === "ArrowDown" ? 1 : -1);
        break;
      case "Enter":
        if (!list.hidden && active >= 0) {
          event.preventDefault();
          choose(results[active]);
        } else if (edited()) {
          // Not the form's submission: the text typed is no product yet.
          event.preventDefault();
          if (!input.value.trim()) choose(null);
          else if (!list.hidden && results.length === 1) choose(results[0]);
          else if (timer || searching) {
            if (timer) searchNow();
            chooseSingle = true; // after: a search starts by forgetting the one before
          }
        }
        break;
      case "Tab":
        // Leaving with an option active takes it, as a list of choices does.
        if (!list.hidden && active >= 0) choose(results[active]);
        break;
      case "Escape":
        if (!list.hidden) {
          event.preventDefault();
          close();
        } else if (edited()) {
          event.preventDefault();
          choose(chosen); // back to the product chosen
        }
        break;
      default:
    }
  }

  input.addEventListener("input", typed);
  input.addEventListener("keydown", onKey);
  // Leaving the field: text that chose nothing goes back to the product chosen (emptied,
  // it chooses none).
  input.addEventListener("blur", () => {
    if (!edited()) {
      cancel();
      close();
      return;
    }
    choose(input.value.trim() ? chosen : null);
  });
  // The focus stays in the field while an option is clicked.
  list.addEventListener("mousedown", (event) => event.preventDefault());
  list.addEventListener("click", (event) => {
    const option = event.target.closest('[role="option"]');
    if (option) choose(results[[...list.children].indexOf(option)]);
  });
  if (clear) {
    clear.addEventListener("click", () => {
      choose(null);
      input.focus();
    });
  }
}

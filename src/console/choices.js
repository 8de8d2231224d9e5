// The locations the forms offer (every page of them: there are few) and the names that label
// ids. Products are too many to list: the pickers search them (picker.js), and their labels
// come from the products seen (catalog.js).

import { fillSelect } from "./movement.js";

const LOCATIONS = "/api/v1/locations?is_archived=false&limit=100";

export const locationLabel = (l) => `${l.code} · ${l.name}`;

/** `locationSelects` are filled by `load()`; `names` labels ids. */
export function createChoices({ api, catalog, locationSelects }) {
  const locations = new Map();

  async function load() {
    const items = await api.all(LOCATIONS);
    // Stock in transit is moved by shipments, not by these forms.
    const usable = items.filter((l) => !l.is_transit);
    locations.clear();
    for (const l of usable) locations.set(l.id, l);
    for (const select of locationSelects) fillSelect(select, usable, locationLabel);
  }

  return {
    load,
    names: {
      product: (id) => catalog.sku(id),
      location: (id) => (locations.has(id) ? locations.get(id).code : id || "?"),
    },
  };
}

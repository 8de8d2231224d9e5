// The products and locations the forms offer (every page of them, not only the first), and
// their names for labels.

import { fillSelect } from "./movement.js";

const PRODUCTS = "/api/v1/products?is_archived=false&sort=sku&limit=100";
const LOCATIONS = "/api/v1/locations?is_archived=false&limit=100";

export const productLabel = (p) => `${p.sku} · ${p.name}`;
export const locationLabel = (l) => `${l.code} · ${l.name}`;

/** `productSelects` and `locationSelects` are filled by `load()`; `names` labels ids. */
export function createChoices({ api, productSelects, locationSelects }) {
  const products = new Map();
  const locations = new Map();

  async function load() {
    const [productItems, locationItems] = await Promise.all([
      api.all(PRODUCTS),
      api.all(LOCATIONS),
    ]);
    // Stock in transit is moved by shipments, not by these forms.
    const usable = locationItems.filter((l) => !l.is_transit);
    products.clear();
    locations.clear();
    for (const p of productItems) products.set(p.id, p);
    for (const l of usable) locations.set(l.id, l);
    for (const select of productSelects) fillSelect(select, productItems, productLabel);
    for (const select of locationSelects) fillSelect(select, usable, locationLabel);
  }

  return {
    load,
    product: (id) => products.get(id),
    names: {
      product: (id) => (products.has(id) ? products.get(id).sku : id || "?"),
      location: (id) => (locations.has(id) ? locations.get(id).code : id || "?"),
    },
  };
}

// The products this page has seen (search answers, the board's rows, products read by id),
// so ids can be labelled without loading every product, and the pickers still offer them
// when the server cannot be reached. An id not seen yet is read once, when it is needed.

export const productLabel = (p) => `${p.sku} · ${p.name}`;

/** How a product's SKU or name holds `text`: the way the search does, case-insensitively. */
export function matches(product, text) {
  const wanted = text.toLowerCase();
  return [product.sku, product.name].some((value) =>
    String(value || "").toLowerCase().includes(wanted),
  );
}

export function createCatalog({ api }) {
  const known = new Map();
  // One read per unknown id at a time, shared by whoever asks meanwhile.
  const reading = new Map();

  function remember(product) {
    if (!product || !product.id) return;
    known.set(product.id, { ...known.get(product.id), ...product });
  }

  /** The product with that id: from what was seen, else read (GET /products/{id}). */
  function get(id) {
    if (known.has(id)) return Promise.resolve(known.get(id));
    if (!reading.has(id)) {
      const read = api
        .request(`/api/v1/products/${encodeURIComponent(id)}`)
        .then((product) => {
          remember(product);
          return known.get(id);
        })
        .finally(() => reading.delete(id));
      reading.set(id, read);
    }
    return reading.get(id);
  }

  return {
    remember,
    get,
    /** The products seen whose SKU or name holds `text`, active ones only, at most `limit`. */
    find(text, limit) {
      return [...known.values()]
        .filter((p) => !p.is_archived && matches(p, text))
        .slice(0, limit);
    },
    /** The SKU of a product seen; an id not seen yet is shown as is, and read for next time. */
    sku(id) {
      if (known.has(id)) return known.get(id).sku;
      if (id) get(id).catch(() => {});
      return id || "?";
    },
  };
}

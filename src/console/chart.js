// A product's on-hand (all locations together) over time, drawn from the ledger: the
// current total, walked back through the newest movements (each one's quantity is the
// signed change it made). An SVG step line, with a text summary for screen readers.

const SVG = "http://www.w3.org/2000/svg";
const WIDTH = 640;
const HEIGHT = 200;
const PAD = { left: 48, right: 12, top: 12, bottom: 28 };
const MOVEMENTS = 100;

function node(name, attributes, text) {
  const element = document.createElementNS(SVG, name);
  for (const [key, value] of Object.entries(attributes)) element.setAttribute(key, String(value));
  if (text !== undefined) element.textContent = text;
  return element;
}

/** Points (time, on hand) oldest first: the total after each movement, and before the first. */
export function series(total, newestFirst) {
  const points = [];
  let after = total;
  for (const movement of newestFirst) {
    points.push({ at: Date.parse(movement.created_at), onHand: after });
    after -= movement.quantity;
  }
  if (newestFirst.length) {
    const oldest = newestFirst[newestFirst.length - 1];
    points.push({ at: Date.parse(oldest.created_at) - 1, onHand: after });
  }
  return points.reverse();
}

function draw(svg, points) {
  const times = points.map((p) => p.at);
  const values = points.map((p) => p.onHand);
  const t0 = Math.min(...times);
  const t1 = Math.max(...times, t0 + 1);
  const top = Math.max(...values, 1);
  const x = (t) => PAD.left + ((t - t0) / (t1 - t0)) * (WIDTH - PAD.left - PAD.right);
  const y = (v) => HEIGHT - PAD.bottom - (v / top) * (HEIGHT - PAD.top - PAD.bottom);
  let path = `M${x(points[0].at)},${y(points[0].onHand)}`;
  for (const point of points.slice(1)) path += ` H${x(point.at)} V${y(point.onHand)}`;
  svg.replaceChildren(
    node("line", { x1: PAD.left, x2: WIDTH - PAD.right, y1: y(0), y2: y(0), class: "axis" }),
    node("line", { x1: PAD.left, x2: PAD.left, y1: PAD.top, y2: y(0), class: "axis" }),
    node("text", { x: PAD.left - 6, y: y(top) + 4, class: "tick end" }, String(top)),
    node("text", { x: PAD.left - 6, y: y(0) + 4, class: "tick end" }, "0"),
    node("text", { x: PAD.left, y: HEIGHT - 8, class: "tick" }, new Date(t0).toLocaleString()),
    node("text", { x: WIDTH - PAD.right, y: HEIGHT - 8, class: "tick end" },
      new Date(t1).toLocaleString()),
    node("path", { d: path, class: "line" }),
  );
}

/** `elements`: picker, svg, summary, error. */
export function createChart({ api, elements }) {
  let shown = null;
  let latest = 0; // only the newest request's answer is drawn

  async function show(id) {
    const mine = ++latest;
    shown = id || null;
    elements.error.textContent = "";
    elements.svg.replaceChildren();
    elements.svg.parentElement.hidden = !shown;
    if (!shown) {
      elements.summary.textContent = "";
      return;
    }
    const encoded = encodeURIComponent(shown);
    try {
      const [stock, ledger] = await Promise.all([
        api.request(`/api/v1/products/${encoded}/stock`),
        api.request(`/api/v1/stock/movements?product_id=${encoded}&limit=${MOVEMENTS}`),
      ]);
      if (mine !== latest) return; // a newer request (or product) took over
      const points = series(stock.on_hand, ledger.items);
      if (points.length < 2) {
        elements.summary.textContent = "No movements yet.";
        return;
      }
      draw(elements.svg, points);
      const first = points[0];
      elements.summary.textContent =
        `On hand went from ${first.onHand} to ${stock.on_hand} over the last ` +
        `${ledger.items.length} movements, since ${new Date(first.at).toLocaleString()}.`;
    } catch (error) {
      if (mine === latest) elements.error.textContent = error.message;
    }
  }

  elements.picker.addEventListener("change", () => show(elements.picker.value));

  return {
    show,
    /** A movement arrived: redraw when it is the charted product's. */
    onMovement(movement) {
      if (shown && movement.product_id === shown) show(shown);
    },
  };
}

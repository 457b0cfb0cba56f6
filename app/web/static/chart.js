// Price history as an inline SVG line chart (no library, no inline styles: classes in app.css).

import { h, money, svg } from "./ui.js";

const W = 600;
const H = 220;
const PAD = { left: 70, right: 16, top: 16, bottom: 28 };

export function priceChart(points, currency) {
  const figure = h("figure", { class: "chart", dataset: { testid: "price-chart" } });
  draw(figure, points, currency);
  return figure;
}

export function draw(figure, points, currency) {
  figure.replaceChildren();
  if (!points.length) return;
  const values = points.map((p) => Number(p.price));
  const times = points.map((p) => new Date(p.changedAt).getTime());
  let low = Math.min(...values);
  let high = Math.max(...values);
  if (low === high) { low *= 0.9; high *= 1.1; }
  const t0 = Math.min(...times);
  const t1 = Math.max(...times, t0 + 1);
  const x = (t) => PAD.left + ((t - t0) / (t1 - t0)) * (W - PAD.left - PAD.right);
  const y = (v) => PAD.top + (1 - (v - low) / (high - low)) * (H - PAD.top - PAD.bottom);
  // A single price is a flat line across the chart, not a lonely dot.
  const coords = points.length === 1
    ? [[PAD.left, y(values[0])], [W - PAD.right, y(values[0])]]
    : points.map((_, i) => [x(times[i]), y(values[i])]);
  const path = coords.map(([px, py], i) => `${i ? "L" : "M"}${px.toFixed(1)},${py.toFixed(1)}`).join(" ");
  const latest = points[points.length - 1];
  const label = `Price history: ${points.length} price${points.length > 1 ? "s" : ""}, from ${money(points[0].price, currency)} to ${money(latest.price, currency)}`;
  const chart = svg("svg", { viewBox: `0 0 ${W} ${H}`, role: "img", "aria-label": label },
    svg("title", {}, label),
    svg("line", { class: "axis", x1: PAD.left, y1: H - PAD.bottom, x2: W - PAD.right, y2: H - PAD.bottom }),
    svg("line", { class: "axis", x1: PAD.left, y1: PAD.top, x2: PAD.left, y2: H - PAD.bottom }),
    svg("text", { x: PAD.left - 6, y: y(high) + 4, "text-anchor": "end" }, money(high, currency)),
    svg("text", { x: PAD.left - 6, y: y(low) + 4, "text-anchor": "end" }, money(low, currency)),
    svg("text", { x: PAD.left, y: H - 8 }, new Date(t0).toLocaleDateString("en-GB")),
    svg("text", { x: W - PAD.right, y: H - 8, "text-anchor": "end" }, new Date(t1).toLocaleDateString("en-GB")),
    svg("path", { class: "line", d: path }),
    ...coords.slice(0, points.length === 1 ? 1 : coords.length).map(([px, py]) => svg("circle", { class: "dot", cx: px, cy: py, r: 4 })));
  figure.append(chart, h("figcaption", { class: "muted small" }, label));
}

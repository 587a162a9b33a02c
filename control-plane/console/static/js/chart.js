// A small inline-SVG line chart: one or two series over time, scaled to their maximum.
const NS = "http://www.w3.org/2000/svg";

function svg(tag, attrs, ...children) {
  const el = document.createElementNS(NS, tag);
  for (const [key, value] of Object.entries(attrs)) el.setAttribute(key, String(value));
  for (const child of children) el.append(child);
  return el;
}

/** series: [{ label, values, className }]; at: the x values (ms), shared by the series. */
export function lineChart({ title, at, series, format = (v) => String(v), width = 420, height = 120 }) {
  const pad = { left: 44, right: 8, top: 18, bottom: 18 };
  const innerW = width - pad.left - pad.right;
  const innerH = height - pad.top - pad.bottom;
  const max = Math.max(1, ...series.flatMap((s) => s.values));
  const first = at[0] ?? 0;
  const span = Math.max(1, (at.at(-1) ?? 0) - first);
  const x = (t) => pad.left + ((t - first) / span) * innerW;
  const y = (v) => pad.top + innerH - (v / max) * innerH;
  const root = svg("svg", {
    viewBox: `0 0 ${width} ${height}`,
    class: "chart",
    role: "img",
    "aria-label": title,
  });
  root.append(svg("text", { x: pad.left, y: 12, class: "chart-title" }, title));
  root.append(svg("line", { x1: pad.left, x2: width - pad.right, y1: y(0), y2: y(0), class: "axis" }));
  root.append(
    svg("text", { x: pad.left - 4, y: y(max) + 4, class: "tick", "text-anchor": "end" }, format(max)),
  );
  root.append(svg("text", { x: pad.left - 4, y: y(0), class: "tick", "text-anchor": "end" }, "0"));
  if (at.length > 1) {
    const minutes = Math.round(span / 60_000);
    root.append(
      svg(
        "text",
        { x: pad.left, y: height - 4, class: "tick" },
        minutes >= 1 ? `−${minutes} min` : `−${Math.round(span / 1000)} s`,
      ),
    );
    root.append(
      svg("text", { x: width - pad.right, y: height - 4, class: "tick", "text-anchor": "end" }, "now"),
    );
  } else {
    root.append(
      svg(
        "text",
        { x: pad.left + innerW / 2, y: pad.top + innerH / 2, class: "tick", "text-anchor": "middle" },
        "collecting…",
      ),
    );
  }
  let legendX = width - pad.right;
  for (const s of [...series].reverse()) {
    const label = svg(
      "text",
      { x: legendX, y: 12, class: `legend ${s.className}`, "text-anchor": "end" },
      s.label,
    );
    root.append(label);
    legendX -= s.label.length * 6.5 + 14;
    if (at.length < 2) continue;
    const points = s.values.map((v, i) => `${x(at[i]).toFixed(1)},${y(v).toFixed(1)}`).join(" ");
    root.append(svg("polyline", { points, class: `line ${s.className}` }));
  }
  return root;
}

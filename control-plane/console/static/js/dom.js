// DOM building and formatting helpers. Elements are built with text nodes only (never
// innerHTML), so nothing a job or an error message contains can become markup.

export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs ?? {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith("on")) el.addEventListener(key.slice(2), value);
    else if (key === "class") el.className = value;
    else if (value === true) el.setAttribute(key, "");
    else el.setAttribute(key, String(value));
  }
  append(el, children);
  return el;
}

export function append(el, children) {
  for (const child of children.flat(Number.POSITIVE_INFINITY)) {
    if (child === undefined || child === null || child === false) continue;
    el.append(child instanceof Node ? child : String(child));
  }
}

export function fill(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

/** A table of a row or an array of rows; with none, one row saying `emptyText`. */
export function table(headers, rows, attrs = {}, emptyText = "none") {
  const list = Array.isArray(rows) ? rows : [rows];
  const body =
    list.length > 0 ? rows : h("tr", { class: "empty" }, h("td", { colspan: headers.length }, emptyText));
  return h(
    "table",
    attrs,
    h(
      "thead",
      null,
      h(
        "tr",
        null,
        headers.map((header) => h("th", null, header)),
      ),
    ),
    h("tbody", null, body),
  );
}

/** A search box that filters a server-paged list: sets `state.q` and starts again at its first page. */
export function searchInput(placeholder, state, refresh) {
  return h("input", {
    type: "search",
    placeholder,
    oninput: (event) => {
      state.q = event.target.value.trim();
      state.offset = 0;
      void refresh();
    },
  });
}

/** The pager of a server-paged view whose `state` holds offset and limit. */
export function statePager(data, state, refresh) {
  return pager(data.total, data.offset, state.limit, (offset) => {
    state.offset = offset;
    void refresh();
  });
}

export function number(value) {
  if (value === null || value === undefined) return "—";
  if (Math.abs(value) >= 1e6) return `${(value / 1e6).toFixed(1)}M`;
  if (Math.abs(value) >= 1e4) return `${(value / 1e3).toFixed(1)}k`;
  return Number.isInteger(value) ? String(value) : value.toFixed(value < 10 ? 2 : 1);
}

export function rate(value) {
  return value === null || value === undefined ? "—" : `${number(value)}/s`;
}

export function percent(value) {
  return value === null || value === undefined ? "—" : `${(value * 100).toFixed(value < 0.1 ? 1 : 0)} %`;
}

export function duration(ms) {
  if (ms === null || ms === undefined) return "—";
  if (ms < 1000) return `${Math.round(ms)} ms`;
  const s = ms / 1000;
  if (s < 60) return `${s.toFixed(s < 10 ? 1 : 0)} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min ${Math.floor(s % 60)} s`;
  const hours = Math.floor(m / 60);
  if (hours < 48) return `${hours} h ${m % 60} min`;
  return `${Math.floor(hours / 24)} d ${hours % 24} h`;
}

export function time(ms) {
  if (ms === null || ms === undefined) return "—";
  const date = new Date(ms);
  const sameDay = date.toDateString() === new Date().toDateString();
  const clock = date.toLocaleTimeString([], { hour12: false });
  return sameDay ? clock : `${date.toLocaleDateString()} ${clock}`;
}

export function badge(text, kind = text) {
  return h("span", { class: `badge badge-${kind}` }, text);
}

export function json(value) {
  return h("pre", { class: "json" }, JSON.stringify(value, null, 2) ?? "undefined");
}

/** Previous / next paging for a server-paged list. */
export function pager(total, offset, limit, go) {
  const last = Math.max(0, Math.ceil(total / limit) - 1);
  const page = Math.floor(offset / limit);
  return h(
    "div",
    { class: "pager" },
    h(
      "button",
      { type: "button", disabled: page <= 0, onclick: () => go(Math.max(0, offset - limit)) },
      "‹ Prev",
    ),
    h("span", null, total === 0 ? "none" : `${offset + 1}–${Math.min(total, offset + limit)} of ${total}`),
    h("button", { type: "button", disabled: page >= last, onclick: () => go(offset + limit) }, "Next ›"),
  );
}

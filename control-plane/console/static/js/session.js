// What this browser may do: the console's mode (admin or read-only) and whether this
// browser holds an admin session (an HttpOnly cookie the page never sees).
import { post, read } from "./api.js";

export const session = { mode: "read-only", admin: false, refreshMs: 1500, traceUrlTemplate: null };
const listeners = new Set();

export function onSessionChange(listener) {
  listeners.add(listener);
}

function update(data) {
  Object.assign(session, data);
  for (const listener of listeners) listener(session);
}

export async function loadSession() {
  update(await read("session"));
}

export async function unlock(token) {
  update(await post("session", { token }));
}

export async function lock() {
  update(await post("logout"));
}

// Talks to the console's JSON routes (relative to /console/). Reads are GETs; admin actions
// are POSTs with the console's header, which a page of another site cannot send.

export class ConsoleError extends Error {
  constructor(status, error) {
    super(error?.message ?? `HTTP ${status}`);
    this.status = status;
    this.code = error?.code ?? "HTTP";
    this.hint = error?.hint;
  }
}

async function unwrap(response) {
  let body;
  try {
    body = await response.json();
  } catch {
    throw new ConsoleError(response.status, { code: "HTTP", message: `HTTP ${response.status}` });
  }
  if (!response.ok || !body.ok) throw new ConsoleError(response.status, body.error);
  return body.data;
}

export async function read(view, params = {}) {
  const query = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) {
    if (value !== undefined && value !== null && value !== "") query.set(key, String(value));
  }
  const response = await fetch(`api/${view}?${query}`, { headers: { Accept: "application/json" } });
  return unwrap(response);
}

export async function post(route, body = {}) {
  const response = await fetch(`api/${route}`, {
    method: "POST",
    credentials: "same-origin",
    headers: { "Content-Type": "application/json", "X-Jetmesh-Console": "1" },
    body: JSON.stringify(body),
  });
  return unwrap(response);
}

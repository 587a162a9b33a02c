// The console's page and its assets, read once from the repository (control-plane/console/static)
// and served from memory: no CDN, no build step, nothing fetched from elsewhere.
import { readdirSync, readFileSync, statSync } from "node:fs";
import type { ServerResponse } from "node:http";
import { extname, join, relative, sep } from "node:path";
import { fileURLToPath } from "node:url";
import { SECURITY_HEADERS } from "./http.ts";

const TYPES: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".svg": "image/svg+xml",
};

export const STATIC_ROOT = fileURLToPath(new URL("./static/", import.meta.url));

export class StaticFiles {
  readonly #files = new Map<string, { type: string; body: Buffer }>();

  constructor(root = STATIC_ROOT) {
    for (const path of walk(root)) {
      const type = TYPES[extname(path)];
      if (type === undefined) continue;
      this.#files.set(relative(root, path).split(sep).join("/"), { type, body: readFileSync(path) });
    }
  }

  /** Answers with the file at `path` (relative to the static root); false when there is none. */
  serve(path: string, response: ServerResponse, head = false): boolean {
    const file = this.#files.get(path);
    if (file === undefined) return false;
    response.writeHead(200, {
      ...SECURITY_HEADERS,
      "Cache-Control": "no-cache",
      "Content-Type": file.type,
      "Content-Length": String(file.body.length),
    });
    response.end(head ? undefined : file.body);
    return true;
  }
}

function walk(dir: string): string[] {
  return readdirSync(dir).flatMap((entry) => {
    const path = join(dir, entry);
    return statSync(path).isDirectory() ? walk(path) : [path];
  });
}

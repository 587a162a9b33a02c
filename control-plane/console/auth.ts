// Who may act through the console. Reading needs nothing; admin actions need a session that
// was opened with the configured token. Sessions are random 256-bit ids in an HttpOnly,
// SameSite=Strict cookie, kept in this replica's memory. Every POST must also carry the
// console's custom header and come from the console's own origin, so no other site can make a
// browser send one (a cross-site request with a custom header needs a CORS preflight, which the
// console never grants).
import { createHash, randomBytes, timingSafeEqual } from "node:crypto";
import type { IncomingMessage } from "node:http";

export const SESSION_COOKIE = "jetmesh_console";
export const REQUEST_HEADER = "x-jetmesh-console";
/** Sessions kept at most; the oldest go first (each login makes one). */
const MAX_SESSIONS = 1000;

export type AdminMode = "admin" | "read-only";

export class ConsoleAuth {
  readonly #sessions = new Map<string, number>();
  readonly #tokenDigest: Buffer | undefined;

  constructor(
    token: string | undefined,
    readOnly: boolean,
    private readonly sessionTtlMs: number,
    private readonly now: () => number = Date.now,
  ) {
    this.#tokenDigest = token === undefined || readOnly ? undefined : digest(token);
  }

  get mode(): AdminMode {
    return this.#tokenDigest === undefined ? "read-only" : "admin";
  }

  /** Compares in constant time (over digests, so the length of the token does not leak either). */
  tokenMatches(candidate: string): boolean {
    if (this.#tokenDigest === undefined) return false;
    return timingSafeEqual(digest(candidate), this.#tokenDigest);
  }

  /** Opens a session; the returned id goes into the cookie. */
  openSession(): string {
    const id = randomBytes(32).toString("base64url");
    this.#sessions.set(id, this.now() + this.sessionTtlMs);
    while (this.#sessions.size > MAX_SESSIONS) {
      const oldest = this.#sessions.keys().next().value;
      if (oldest === undefined) break;
      this.#sessions.delete(oldest);
    }
    return id;
  }

  closeSession(request: IncomingMessage): void {
    const id = sessionId(request);
    if (id !== undefined) this.#sessions.delete(id);
  }

  hasSession(request: IncomingMessage): boolean {
    if (this.mode !== "admin") return false;
    const id = sessionId(request);
    if (id === undefined) return false;
    const expiresAt = this.#sessions.get(id);
    if (expiresAt === undefined) return false;
    if (expiresAt <= this.now()) {
      this.#sessions.delete(id);
      return false;
    }
    return true;
  }

  sessionCookie(id: string, request: IncomingMessage): string {
    const maxAge = Math.floor(this.sessionTtlMs / 1000);
    return `${SESSION_COOKIE}=${id}; Path=/console; HttpOnly; SameSite=Strict; Max-Age=${maxAge}${secure(request)}`;
  }

  clearedCookie(request: IncomingMessage): string {
    return `${SESSION_COOKIE}=; Path=/console; HttpOnly; SameSite=Strict; Max-Age=0${secure(request)}`;
  }
}

function digest(value: string): Buffer {
  return createHash("sha256").update(value, "utf8").digest();
}

function secure(request: IncomingMessage): string {
  const tls = (request.socket as { encrypted?: boolean }).encrypted === true;
  return tls || request.headers["x-forwarded-proto"] === "https" ? "; Secure" : "";
}

function sessionId(request: IncomingMessage): string | undefined {
  for (const part of (request.headers.cookie ?? "").split(";")) {
    const [name, ...value] = part.trim().split("=");
    if (name === SESSION_COOKIE) return value.join("=") || undefined;
  }
  return undefined;
}

/**
 * Why a state-changing request is refused, or undefined when it may proceed: it must carry the
 * console's header, and its Origin must be the host it was sent to.
 */
export function crossSiteRefusal(request: IncomingMessage): string | undefined {
  if (request.headers[REQUEST_HEADER] !== "1") return `the ${REQUEST_HEADER} header is missing`;
  const origin = request.headers.origin;
  // Behind a reverse proxy that rewrites Host, the host the browser used is in X-Forwarded-Host.
  // A page of another site cannot set that header either (it would need a preflight).
  const forwarded = request.headers["x-forwarded-host"];
  const host =
    (Array.isArray(forwarded) ? forwarded[0] : forwarded)?.split(",")[0]?.trim() || request.headers.host;
  if (origin === undefined || host === undefined) return "the Origin header is missing";
  let originHost: string;
  try {
    originHost = new URL(origin).host;
  } catch {
    return `the Origin "${origin}" is not a URL`;
  }
  if (originHost !== host) return `the Origin "${origin}" is not this console's`;
  const site = request.headers["sec-fetch-site"];
  if (site !== undefined && site !== "same-origin") return `a ${site} request`;
  return undefined;
}

// How the CLI prints: borderless aligned tables (cli-table3) and short human units for people,
// JSON for scripts, and errors as "what went wrong" plus "what to do".
import Table from "cli-table3";
import type { ApiErrorBody } from "../errors.ts";

const CHARS = {
  top: "",
  "top-mid": "",
  "top-left": "",
  "top-right": "",
  bottom: "",
  "bottom-mid": "",
  "bottom-left": "",
  "bottom-right": "",
  left: "",
  "left-mid": "",
  mid: "",
  "mid-mid": "",
  right: "",
  "right-mid": "",
  middle: "   ",
};

export type Cell = string | number | null | undefined;

/** A table in the style of `kubectl get`: upper-case headings, columns separated by spaces. */
export function table(head: readonly string[], rows: readonly (readonly Cell[])[]): string {
  const t = new Table({
    head: head.map((h) => h.toUpperCase()),
    chars: CHARS,
    style: { head: [], border: [], "padding-left": 0, "padding-right": 0 },
  });
  for (const row of rows)
    t.push(row.map((cell) => (cell === null || cell === undefined ? "-" : String(cell))));
  return t.toString().replace(/[ \t]+$/gm, "");
}

/** Two columns of label and value, for one object. */
export function details(pairs: readonly (readonly [string, Cell])[]): string {
  const width = Math.max(...pairs.map(([label]) => label.length)) + 2;
  return pairs
    .map(
      ([label, value]) =>
        `${`${label}:`.padEnd(width)}${value === null || value === undefined ? "-" : value}`,
    )
    .join("\n");
}

export function duration(ms: number | null | undefined): string {
  if (ms === null || ms === undefined || !Number.isFinite(ms)) return "-";
  if (ms < 1000) return `${Math.round(ms)}ms`;
  const s = Math.floor(ms / 1000);
  if (s < 60) return `${(ms / 1000).toFixed(s < 10 ? 1 : 0)}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m${s % 60 ? ` ${s % 60}s` : ""}`;
  const h = Math.floor(m / 60);
  if (h < 24) return `${h}h${m % 60 ? ` ${m % 60}m` : ""}`;
  const d = Math.floor(h / 24);
  return `${d}d${h % 24 ? ` ${h % 24}h` : ""}`;
}

export function ago(ms: number | null | undefined): string {
  return ms === null || ms === undefined ? "-" : `${duration(ms)} ago`;
}

export function time(at: number | null | undefined): string {
  return at === null || at === undefined ? "-" : new Date(at).toISOString().replace("T", " ").slice(0, 19);
}

export function rate(perSec: number | null | undefined): string {
  if (perSec === null || perSec === undefined) return "-";
  return `${perSec >= 100 ? Math.round(perSec) : perSec.toFixed(perSec >= 10 ? 1 : 2)}/s`;
}

export function signedRate(perSec: number | null | undefined): string {
  if (perSec === null || perSec === undefined) return "-";
  return perSec > 0 ? `+${rate(perSec)}` : perSec < 0 ? `-${rate(-perSec)}` : "0/s";
}

export function bytes(n: number): string {
  if (n < 1024) return `${n}B`;
  if (n < 1024 ** 2) return `${(n / 1024).toFixed(1)}KiB`;
  if (n < 1024 ** 3) return `${(n / 1024 ** 2).toFixed(1)}MiB`;
  return `${(n / 1024 ** 3).toFixed(1)}GiB`;
}

export function print(text: string): void {
  process.stdout.write(text.endsWith("\n") ? text : `${text}\n`);
}

export function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}

export function printError(error: ApiErrorBody, json: boolean): void {
  if (json) {
    process.stdout.write(`${JSON.stringify({ ok: false, error }, null, 2)}\n`);
    return;
  }
  process.stderr.write(`error: ${error.message}\n`);
  if (error.hint) process.stderr.write(`hint:  ${error.hint}\n`);
}

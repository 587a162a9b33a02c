// The dependency direction is part of the design: workers/ and control-plane/ use the runtime's
// public face, and runtime/ never reaches back into them.
import assert from "node:assert/strict";
import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { test } from "node:test";

async function sourceFiles(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true }).catch(() => []);
  const files: string[] = [];
  for (const entry of entries) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) files.push(...(await sourceFiles(path)));
    else if (entry.name.endsWith(".ts")) files.push(path);
  }
  return files;
}

function importsOf(source: string): string[] {
  return [...source.matchAll(/(?:from|import)\s*\(?\s*["']([^"']+)["']/g)].map((match) => match[1] ?? "");
}

test("runtime/ imports neither workers/ nor control-plane/", async () => {
  const offenders: string[] = [];
  for (const file of await sourceFiles("runtime")) {
    for (const specifier of importsOf(await readFile(file, "utf8"))) {
      if (/(^|\/)(workers|control-plane)(\/|$)/.test(specifier)) offenders.push(`${file} -> ${specifier}`);
    }
  }
  assert.deepEqual(offenders, []);
});

test("workers/ and control-plane/ reach the runtime only through runtime/index.ts", async () => {
  const offenders: string[] = [];
  for (const dir of ["workers", "control-plane"]) {
    for (const file of await sourceFiles(dir)) {
      for (const specifier of importsOf(await readFile(file, "utf8"))) {
        if (/(^|\/)runtime\//.test(specifier) && !specifier.endsWith("runtime/index.ts")) {
          offenders.push(`${file} -> ${specifier}`);
        }
      }
    }
  }
  assert.deepEqual(offenders, []);
});

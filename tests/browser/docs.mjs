// Opens ura's /docs in Debian's Chromium (never a downloaded browser) and
// checks that the page lists every operation of /openapi.json as
// "METHOD /path", and that it asked for nothing outside 127.0.0.1.
//
//   node docs.mjs http://127.0.0.1:PORT [screenshot.png]
//
// Prints one line per finding; exits 0 only when all is well.
import { chromium } from 'playwright-core';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const base = process.argv[2];
const screenshot = process.argv[3];
if (!base || !base.startsWith('http://127.0.0.1:')) {
  console.error('usage: node docs.mjs http://127.0.0.1:PORT [screenshot.png]');
  process.exit(2);
}

const doc = await (await fetch(`${base}/openapi.json`)).json();
const expected = [];
for (const [path, item] of Object.entries(doc.paths)) {
  for (const method of Object.keys(item)) {
    expected.push(`${method.toUpperCase()} ${path}`);
  }
}

const userDataDir = mkdtempSync(join(tmpdir(), 'ura-docs-chromium-'));
const context = await chromium.launchPersistentContext(userDataDir, {
  executablePath: '/usr/bin/chromium',
  headless: true,
  args: [
    '--headless',
    '--no-sandbox',
    '--disable-gpu',
    '--disable-background-networking',
    '--disable-component-update',
    '--disable-sync',
  ],
});
const requests = [];
context.on('request', (r) => requests.push(r.url()));
const errors = [];
let shown = [];
try {
  const page = await context.newPage();
  page.on('pageerror', (e) => errors.push(String(e)));
  await page.goto(`${base}/docs`, { waitUntil: 'load', timeout: 30000 });
  await page.waitForSelector('.opblock-summary-path', { timeout: 30000 });
  shown = await page.$$eval('.opblock-summary', (blocks) =>
    blocks.map((b) => {
      const method = b.querySelector('.opblock-summary-method')?.textContent?.trim() ?? '';
      const pathEl = b.querySelector('.opblock-summary-path');
      const path = pathEl?.getAttribute('data-path') ?? pathEl?.textContent?.trim() ?? '';
      return `${method} ${path}`;
    }),
  );
  if (screenshot) {
    await page.screenshot({ path: screenshot, fullPage: false });
  }
} finally {
  await context.close();
  rmSync(userDataDir, { recursive: true, force: true });
}

let ok = true;
const missing = expected.filter((op) => !shown.includes(op));
for (const op of missing) {
  console.log(`missing on the page: ${op}`);
  ok = false;
}
const outside = requests.filter((u) => {
  if (u.startsWith('data:')) return false;
  try {
    return new URL(u).hostname !== '127.0.0.1';
  } catch {
    return true;
  }
});
for (const u of outside) {
  console.log(`request outside 127.0.0.1: ${u}`);
  ok = false;
}
for (const e of errors) {
  console.log(`page error: ${e}`);
  ok = false;
}
console.log(
  `operations: ${expected.length} in /openapi.json, ${shown.length} on the page; ` +
    `requests: ${requests.length}, outside 127.0.0.1: ${outside.length}`,
);
for (const op of shown.filter((o) => o.startsWith('GET /api/v1/numbers'))) {
  console.log(`shown: ${op}`);
}
process.exit(ok ? 0 : 1);

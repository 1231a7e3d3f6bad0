// report_browser.js — loads an HTML page in headless Chromium (Debian's `chromium`) through the
// DevTools protocol over a pipe (--remote-debugging-pipe: no npm packages, no network port),
// and prints one JSON object: what the console and the page reported, what the page contains,
// and where its full-page screenshot went.
//   node report_browser.js CHROMIUM PAGE.html SCREENSHOT.png PROFILE_DIR
// Output: {"console": [...], "exceptions": [...], "failed_requests": [...], "external": [...],
//          "title": ..., "thumbs": N, "thumbs_loaded": N, "rows": N, "failed_rows": N,
//          "failures": N, "charts": N, "figures": N, "figures_loaded": N, "study_rows": N,
//          "screenshot": path, "screenshot_bytes": N}
// console: error and warning messages (console API and browser log); exceptions: uncaught ones;
// failed_requests: resources that did not load; external: src/href values that leave the page's
// folder (scheme-qualified or protocol-relative). Exit 0 when the page was examined, 1 otherwise.
'use strict';
const { spawn } = require('child_process');
const fs = require('fs');
const path = require('path');

const [chromium, page, shot, profile] = process.argv.slice(2);
if (!profile) {
  console.error('usage: node report_browser.js CHROMIUM PAGE.html SCREENSHOT.png PROFILE_DIR');
  process.exit(2);
}
const proc = spawn(chromium, ['--headless=new', '--no-sandbox', '--disable-gpu', '--no-first-run',
  '--no-default-browser-check', '--disable-extensions', '--remote-debugging-pipe',
  `--user-data-dir=${profile}`, '--window-size=1280,900', 'about:blank'],
  { stdio: ['ignore', 'ignore', 'pipe', 'pipe', 'pipe'] });
let stderr = '';
proc.stderr.on('data', (d) => { stderr += d; });
const toBrowser = proc.stdio[3], fromBrowser = proc.stdio[4];

let nextId = 1, buf = Buffer.alloc(0);
const pending = new Map(), listeners = [];
fromBrowser.on('data', (chunk) => {
  buf = Buffer.concat([buf, chunk]);
  let z;
  while ((z = buf.indexOf(0)) >= 0) { // messages are NUL-terminated JSON
    const msg = JSON.parse(buf.subarray(0, z).toString('utf8'));
    buf = buf.subarray(z + 1);
    if (msg.id && pending.has(msg.id)) {
      const { resolve, reject } = pending.get(msg.id);
      pending.delete(msg.id);
      if (msg.error) reject(new Error(JSON.stringify(msg.error))); else resolve(msg.result);
    } else if (msg.method) {
      for (const l of listeners) l(msg);
    }
  }
});
function send(method, params = {}, sessionId) {
  const id = nextId++;
  const m = { id, method, params };
  if (sessionId) m.sessionId = sessionId;
  toBrowser.write(JSON.stringify(m) + '\0');
  return new Promise((resolve, reject) => pending.set(id, { resolve, reject }));
}
function waitFor(method, sessionId, ms) {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`timeout waiting for ${method}`)), ms);
    listeners.push((m) => {
      if (m.method === method && m.sessionId === sessionId) { clearTimeout(t); resolve(m.params); }
    });
  });
}

async function main() {
  const out = { console: [], exceptions: [], failed_requests: [], external: [] };
  const { targetId } = await send('Target.createTarget', { url: 'about:blank' });
  const { sessionId } = await send('Target.attachToTarget', { targetId, flatten: true });
  listeners.push((m) => {
    if (m.sessionId !== sessionId) return;
    if (m.method === 'Runtime.consoleAPICalled' && ['error', 'warning', 'assert'].includes(m.params.type))
      out.console.push(`${m.params.type}: ${m.params.args.map((a) => a.value ?? a.description).join(' ')}`);
    if (m.method === 'Log.entryAdded' && ['error', 'warning'].includes(m.params.entry.level))
      out.console.push(`${m.params.entry.level}: ${m.params.entry.text} ${m.params.entry.url || ''}`.trim());
    if (m.method === 'Runtime.exceptionThrown')
      out.exceptions.push(m.params.exceptionDetails.text + ' ' + (m.params.exceptionDetails.exception?.description || ''));
    if (m.method === 'Network.loadingFailed') out.failed_requests.push(m.params.errorText);
  });
  for (const d of ['Runtime', 'Log', 'Page', 'Network']) await send(`${d}.enable`, {}, sessionId);
  const loaded = waitFor('Page.loadEventFired', sessionId, 60000);
  await send('Page.navigate', { url: 'file://' + path.resolve(page) }, sessionId);
  await loaded;
  // lazy thumbnails: load them all, then count those that decoded
  const expr = `(async () => {
    const thumbs = [...document.querySelectorAll('img.thumb')];
    for (const i of thumbs) i.loading = 'eager';
    const ok = await Promise.all(thumbs.map((i) => i.decode().then(() => i.naturalWidth > 0, () => false)));
    const figs = [...document.querySelectorAll('figure.fig img')];
    const figs_ok = await Promise.all(figs.map((i) => i.decode().then(() => i.naturalWidth > 0, () => false)));
    const refs = [...document.querySelectorAll('[src],[href]')].map((e) => e.getAttribute('src') || e.getAttribute('href'));
    return JSON.stringify({
      title: document.title,
      thumbs: thumbs.length, thumbs_loaded: ok.filter(Boolean).length,
      rows: document.querySelectorAll('table.results tr.result').length,
      failed_rows: document.querySelectorAll('table.results tr.result.failed').length,
      failures: document.querySelectorAll('table.failures tr.failure').length,
      charts: document.querySelectorAll('svg.chart').length,
      figures: figs.length, figures_loaded: figs_ok.filter(Boolean).length,
      study_rows: document.querySelectorAll('table.study tr.row').length,
      scripts: document.querySelectorAll('script').length,
      external: refs.filter((r) => /^[a-z][a-z0-9+.-]*:/i.test(r) || r.startsWith('//')),
    });
  })()`;
  const r = await send('Runtime.evaluate', { expression: expr, awaitPromise: true, returnByValue: true }, sessionId);
  if (r.exceptionDetails) throw new Error('evaluate: ' + JSON.stringify(r.exceptionDetails));
  Object.assign(out, JSON.parse(r.result.value));
  const shotData = await send('Page.captureScreenshot', { format: 'png', captureBeyondViewport: true }, sessionId);
  fs.writeFileSync(shot, Buffer.from(shotData.data, 'base64'));
  out.screenshot = shot;
  out.screenshot_bytes = fs.statSync(shot).size;
  return out;
}

const kill = setTimeout(() => { console.error('report_browser: timed out\n' + stderr.slice(-2000)); proc.kill('SIGKILL'); process.exit(1); }, 120000);
main().then((out) => {
  process.stdout.write(JSON.stringify(out) + '\n');
  clearTimeout(kill);
  send('Browser.close').catch(() => {});
  setTimeout(() => { proc.kill('SIGKILL'); process.exit(0); }, 2000).unref();
  proc.on('exit', () => process.exit(0));
}, (e) => {
  console.error('report_browser: ' + e.message + '\n' + stderr.slice(-2000));
  proc.kill('SIGKILL');
  process.exit(1);
});

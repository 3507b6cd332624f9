/*
 * Lists what a wa-js dist exports, without a browser: run by wacc's contract check
 * (wacc/engines/web/wajs_contract.py) as `node wajs_probe.js BUNDLE`.
 *
 * The dist is a webpack bundle that ends in `self.WPP = exports`. It is evaluated in a
 * fresh V8 context whose global is a minimal stand-in for a browser window (no
 * WhatsApp modules: wa-js only starts searching for them from timers and events, which
 * never fire here because this process exits right after the walk). Then the exported
 * object is walked with property descriptors:
 * - data properties are reported with their typeof;
 * - accessor properties are webpack's re-export bindings (`get: () => binding`) and are
 *   read once to learn whether they hold a function; reading one cannot reach
 *   WhatsApp's modules, except under `WPP.whatsapp`, whose getters (wa-js's
 *   exportModule) search the module loader: those names are listed as "lazy" and
 *   never read.
 * Prints one JSON object: {"version": ..., "paths": {"chat.sendTextMessage": "function", ...}}.
 */
'use strict';
const fs = require('fs');
const vm = require('vm');

const LAZY_NAMESPACES = new Set(['whatsapp']);
const MAX_DEPTH = 3;

function quiet() {}
const noopTarget = {
  addEventListener: quiet, removeEventListener: quiet, dispatchEvent: () => true,
};
const sandbox = {
  ...noopTarget,
  console: { log: quiet, warn: quiet, error: quiet, info: quiet, debug: quiet, trace: quiet },
  setTimeout: () => 0, clearTimeout: quiet, setInterval: () => 0, clearInterval: quiet,
  queueMicrotask: quiet, requestAnimationFrame: () => 0,
  URL, URLSearchParams, TextEncoder, TextDecoder, atob, btoa,
  navigator: { userAgent: 'Mozilla/5.0 Chrome/140.0.0.0', language: 'en-US', languages: ['en-US'] },
  location: { href: 'https://web.whatsapp.com/', hostname: 'web.whatsapp.com', origin: 'https://web.whatsapp.com', protocol: 'https:' },
  document: { ...noopTarget, querySelector: () => null, querySelectorAll: () => [], createElement: () => ({ ...noopTarget, style: {}, setAttribute: quiet }), head: { appendChild: quiet }, body: { appendChild: quiet } },
  localStorage: { getItem: () => null, setItem: quiet, removeItem: quiet },
  sessionStorage: { getItem: () => null, setItem: quiet, removeItem: quiet },
  WPPConfig: { disableGoogleAnalytics: true, googleAnalyticsId: null, poweredBy: null, deviceName: false, linkPreviewApiServers: [] },
};
sandbox.window = sandbox;
sandbox.self = sandbox;
sandbox.globalThis = sandbox;
sandbox.top = sandbox;

function kindOf(value) {
  if (value === null) return 'null';
  return typeof value;
}

function walk(object, prefix, depth, out, seen) {
  if (depth > MAX_DEPTH || seen.has(object)) return;
  seen.add(object);
  for (const name of Object.getOwnPropertyNames(object)) {
    if (name === '__esModule') continue;
    const path = prefix ? `${prefix}.${name}` : name;
    const desc = Object.getOwnPropertyDescriptor(object, name);
    let value;
    if (desc.get) {
      if (LAZY_NAMESPACES.has(prefix.split('.')[0])) {
        out[path] = 'lazy';
        continue;
      }
      try {
        value = desc.get.call(object);
      } catch (e) {
        out[path] = 'getter-error';
        continue;
      }
    } else {
      value = desc.value;
    }
    out[path] = kindOf(value);
    // Private state (the emitters' _events maps, keyed by event names) is not API.
    if (value && typeof value === 'object' && !name.startsWith('_')) walk(value, path, depth + 1, out, seen);
  }
}

function main() {
  const source = fs.readFileSync(process.argv[2], 'utf8');
  const context = vm.createContext(sandbox);
  try {
    vm.runInContext(source, context, { filename: 'wa-js', timeout: 20000 });
  } catch (e) {
    return { error: `the bundle failed to load: ${String(e && e.message || e).slice(0, 300)}` };
  }
  const wpp = sandbox.WPP;
  if (!wpp || typeof wpp !== 'object') return { error: 'the bundle did not define window.WPP' };
  const paths = {};
  walk(wpp, '', 0, paths, new Set());
  return { version: typeof wpp.version === 'string' ? wpp.version : null, paths };
}

process.stdout.write(JSON.stringify(main()));
process.exit(0);

/*
 * Stand-in for WhatsApp Web's own module runtime (WhatsApp >= 2.3000, Meta's "__d"
 * module system), which real wa-js hooks into. Satisfies wa-js src/loader/index.ts
 * (setupMetaLoaderWatcher / runMetaLoader / buildMetaModulesMap):
 *
 * - window.__d(id, deps, factory) defines a module, window.require(id) runs it once;
 *   wa-js traps the assignment of both globals and starts its "meta" loader when both
 *   exist, exactly as on web.whatsapp.com (this script runs as a page script, after
 *   the engine's init script installed wa-js).
 * - require('__debug').modulesMap: id -> {factory, ...}; wa-js keeps ids matching
 *   /^(?:use)?WA/ and waits until their count is quiet for 750 ms.
 * - window.importNamespace(id) is how wa-js resolves a module, after
 *   ErrorGuard.skipGuardGlobal(true); a CommonJS module comes back as {default: exports}.
 * - window.Debug.VERSION is what wa-js's conn.isMainInit() polls
 *   (src/conn/functions/isMainInit.ts); control.js sets it when the app "boots".
 *
 * Module factories get (global, require, importDefault, importNamespace, requireLazy,
 * module, exports), like WhatsApp's compiled modules.
 */
(() => {
  'use strict';
  const modulesMap = Object.create(null);
  const guard = { skipped: false };

  function define(id, deps, factory) {
    if (modulesMap[id]) return; // WhatsApp's runtime ignores a second definition
    modulesMap[id] = { id, deps: deps || [], factory, exports: undefined, status: 'defined' };
  }

  function requireModule(id) {
    if (id === '__debug') return debug;
    const entry = modulesMap[id];
    if (!entry) throw new Error(`Requiring unknown module "${id}"`);
    if (entry.status === 'defined') {
      entry.status = 'loading';
      const module = { exports: {} };
      try {
        entry.factory(window, requireModule, importDefault, importNamespace, requireLazy, module, module.exports);
      } catch (e) {
        entry.status = 'defined';
        throw e;
      }
      entry.exports = module.exports;
      entry.status = 'loaded';
    }
    return entry.exports;
  }

  function importNamespace(id) {
    const exports = requireModule(id);
    // ES modules are compiled with __esModule; CommonJS ones are wrapped.
    return exports && exports.__esModule ? exports : { default: exports };
  }
  function importDefault(id) {
    const exports = requireModule(id);
    return exports && exports.__esModule ? exports.default : exports;
  }
  function requireLazy(ids, callback) {
    setTimeout(() => callback(...ids.map(requireModule)), 0);
  }

  const debug = { modulesMap };
  window.ErrorGuard = {
    // wa-js calls this before every importNamespace: errors thrown while a module
    // loads reach it instead of WhatsApp's global error reporter.
    skipGuardGlobal(value) { guard.skipped = Boolean(value); },
    applyWithGuard(fn, self, args) { return fn.apply(self, args); },
  };
  window.importNamespace = importNamespace;
  window.__standin = { modulesMap, guard, define, require: requireModule };
  // Order as on the real page: the runtime defines __d and require; wa-js's setter
  // traps see both and start the meta loader.
  window.__d = define;
  window.require = requireModule;
})();

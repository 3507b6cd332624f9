/*
 * The stand-in's "WhatsApp servers and phone": the login state machine that drives the
 * modules of conn.js the way WhatsApp Web drives its own, and window.__fake, the hook
 * the tests call from Python (FakeWhatsAppWeb in __init__.py).
 *
 * Login as WhatsApp Web does it (and as wa-js observes it):
 * - no stored login: Socket UNPAIRED, Stream mode QR, a new Conn.ref every interval
 *   (each one a QR code); after `maxRefs` codes the socket goes UNPAIRED_IDLE and no
 *   more codes come (the "click to reload QR code" screen);
 * - the phone scans the code, or the user types the pairing code on the phone: the
 *   keys are stored (here: localStorage), Socket PAIRING -> CONNECTED, Stream SYNCING ->
 *   MAIN, Cmd main_loaded;
 * - a stored login restores straight to SYNCING -> MAIN without any QR code;
 * - a logout (from the phone or from this client) announces the reason, fires Cmd
 *   'logout', forgets the keys and reloads the page, which shows QR codes again.
 */
(() => {
  'use strict';
  const S = window.__standin;
  const config = window.__fakeConfig || {};
  const PAIRED_KEY = 'fake-whatsapp.paired';
  const req = (id) => S.require(id);
  const randomBytes = (n) => crypto.getRandomValues(new Uint8Array(n)).buffer;
  const b64 = (buf) => req('WAWebBase64').encodeB64(buf);

  const control = {
    config: {
      me: config.me || '15550000001',
      meLid: config.meLid || '990000000000001',
      pushname: config.pushname || 'wacc test',
    },
    state: {
      loggedIn: Boolean(config.paired) || localStorage.getItem(PAIRED_KEY) === '1',
      refs: 0,
      refTimer: null,
      pairing: null, // {phone, code}
      altLinking: false,
    },
    keys: { identity: randomBytes(32), noise: randomBytes(32), adv: b64(randomBytes(32)) },
    calls: [],
  };
  S.control = control;

  const Stream = () => req('WAWebStreamModel').Stream;
  const Socket = () => req('WAWebSocketModel').Socket;
  const Conn = () => req('WAWebConnModel').Conn;
  const Cmd = () => req('WAWebCmd').Cmd;

  // -- QR codes ----------------------------------------------------------------------------

  function newRef() {
    control.state.refs += 1;
    // A WhatsApp ref is "2@" + base64 noise; the attempt number keeps codes apart in tests.
    Conn().set('ref', `2@${control.state.refs}${b64(randomBytes(24))}`);
  }
  function startQr() {
    Socket().set('state', 'UNPAIRED');
    Stream().set({ mode: 'QR', info: undefined });
    newRef();
    // WhatsApp shows the first code for about a minute, later ones for 20 s each.
    const next = () => {
      if (control.state.refs >= (config.maxRefs || 6)) {
        stopQr();
        Socket().set('state', 'UNPAIRED_IDLE');
        return;
      }
      newRef();
      control.state.refTimer = setTimeout(next, config.qrIntervalMs || 20000);
    };
    control.state.refTimer = setTimeout(next, config.firstQrMs || 60000);
  }
  function stopQr() {
    clearTimeout(control.state.refTimer);
    control.state.refTimer = null;
  }

  // -- pairing codes (WAWebAltDeviceLinkingApi) ---------------------------------------------

  // WhatsApp's codes are 8 characters of Crockford-like base32 without 0, O, I, U.
  const ALPHABET = '123456789ABCDEFGHJKLMNPQRSTVWXYZ';
  control.newPairingCode = (phone, push) => {
    control.calls.push({ fn: 'genLinkDeviceCodeForPhoneNumber', args: [phone, push] });
    if (control.state.loggedIn) throw new Error('already registered');
    if (!/^\d{7,15}$/.test(String(phone))) throw new Error('invalid phone number');
    if (!control.state.altLinking) throw new Error('alt device linking not initialized');
    stopQr();
    const bytes = new Uint8Array(randomBytes(8));
    const code = Array.from(bytes, (b) => ALPHABET[b % 32]).join('');
    control.state.pairing = { phone: String(phone), code };
    return code;
  };

  // -- pairing / restore / logout -----------------------------------------------------------

  function becomeMain() {
    Socket().set('state', 'CONNECTED');
    Stream().set({ mode: 'SYNCING', info: 'SYNCING' });
    setTimeout(() => {
      Conn().set({ connected: true, pushname: control.config.pushname, platform: 'android' });
      Cmd().mainLoaded();
      Stream().set({ mode: 'MAIN', info: 'NORMAL' });
      Socket().set('hasSynced', true);
    }, config.syncMs || 100);
  }
  function paired() {
    stopQr();
    control.state.pairing = null;
    localStorage.setItem(PAIRED_KEY, '1');
    Socket().set('state', 'PAIRING');
    control.state.loggedIn = true;
    becomeMain();
  }
  function loggedOut(reason) {
    stopQr();
    if (reason != null) {
      // WhatsApp maps the server's reason to an error code while handling the logout.
      req('WAWebLogoutReasonConstants').getErrorCodeFromLogoutReason(reason);
    }
    localStorage.removeItem(PAIRED_KEY);
    control.state.loggedIn = false;
    Cmd().logout();
    // WhatsApp Web clears its storage and starts over on the QR screen.
    setTimeout(() => location.reload(), 50);
  }
  control.logoutFromWeb = () => {
    control.calls.push({ fn: 'Socket.logout', args: [] });
    // The server learns about it (the Python side counts these).
    fetch('/fake/logout', { method: 'POST' }).catch(() => {}).finally(() => loggedOut(null));
  };

  function boot() {
    window.Debug = Object.assign({}, window.Debug, { VERSION: req('WAWebBuildConstants').VERSION_STR });
    Stream().set('info', 'OPENING');
    setTimeout(() => {
      if (control.state.loggedIn) becomeMain();
      else startQr();
    }, config.bootMs || 50);
  }

  // -- window.__fake: what the tests drive --------------------------------------------------

  const fake = {
    control,
    get calls() { return control.calls; },
    scan() {
      if (control.state.loggedIn || Stream().mode !== 'QR') throw new Error('no QR code on screen');
      paired();
    },
    enterPairingCode(code) {
      const pairing = control.state.pairing;
      if (!pairing || pairing.code !== code) throw new Error('wrong pairing code');
      paired();
    },
    // WhatsApp asks the client for a fresh code (the old one expired) ...
    refreshPairingCode() {
      req('WAWebLinkDeviceEvents').WAWebLinkDeviceEvents.trigger('link_device_events:refresh_alt_linking_code');
    },
    pairingCode() { return control.state.pairing && control.state.pairing.code; },
    remoteLogout(reason) { loggedOut(reason == null ? null : reason); },
    streamMode(mode) {
      Socket().set('state', mode);
      Stream().set('mode', mode);
    },
    // WhatsApp Web refuses this client version: the server answers with the deprecated
    // version stream error (Stream DEPRECATED_VERSION and needsUpdate).
    needsUpdate() {
      Socket().set('state', 'DEPRECATED_VERSION');
      Stream().set({ mode: 'DEPRECATED_VERSION', needsUpdate: true });
    },
    online(value) { req('WAWebNetworkStatus').default.set('online', Boolean(value)); },
    reload() { setTimeout(() => location.reload(), 0); },
    hang() {
      // A busy loop: the renderer's main thread never comes back, like a wedged page.
      setTimeout(() => { for (;;) { /* hung */ } }, 0);
    },
    emitRaw(payload) { window.__waccEmit(payload); },
    injectScriptTag(source) {
      // What a naive injection would do: blocked by the CSP (no nonce).
      const el = document.createElement('script');
      el.textContent = source;
      document.head.appendChild(el);
    },
  };
  S.fake = fake;
  window.__fake = fake;

  if (config.neverBoot) return; // stays on the loading screen forever
  boot();
})();

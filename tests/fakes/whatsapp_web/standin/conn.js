/*
 * Stand-in for WhatsApp Web's connection and login modules, as wa-js 4.6.0 finds and
 * uses them (src/conn/**). The state machine itself lives in control.js; these modules
 * only hold and announce it, as WhatsApp's do:
 *
 * - Stream {mode, info, needsUpdate} fires change:mode / change:info /
 *   change:needsUpdate (src/whatsapp/misc/Stream.ts, src/conn/events/registerStreamEvent.ts,
 *   registerNeedsUpdateEvent.ts). Mode QR while unpaired, SYNCING then MAIN once paired;
 *   wa-js's conn.main_ready fires on the first QR *or* MAIN (registerMainReadyEvent.ts).
 * - Socket {state} with logout() (src/whatsapp/models/SocketModel.ts — matched by the
 *   module id WAWebSocketModel; misc/Socket.ts), UNPAIRED_IDLE when QR codes stop
 *   (src/conn/functions/isIdle.ts, events/registerQRCodeIdleEvent.ts).
 * - Conn {ref, connected}: change:ref is a new QR code (src/whatsapp/misc/Conn.ts,
 *   src/conn/events/registerAuthCodeChangeEvent.ts, functions/getAuthCode.ts).
 * - Cmd: main_loaded / logout events (src/whatsapp/misc/Cmd.ts, registerLogoutEvent.ts,
 *   registerAuthenticatedEvent.ts, src/conn/functions/logout.ts).
 */
(() => {
  'use strict';
  const __d = window.__d;
  const S = window.__standin;

  __d('WAWebBuildConstants', [], (g, r, d, n, l, module, exports) => {
    exports.__esModule = true;
    // The oldest WhatsApp Web that wa-js 4.6.0 declares it supports
    // (supportedWhatsappWeb ">=2.3000.1038792969-alpha" in the bundle);
    // src/whatsapp/contants/SANITIZED_VERSION_STR.ts, src/conn/patch.ts.
    exports.VERSION_STR = '2.3000.1038792969';
    exports.SANITIZED_VERSION_STR = '2.3000.1038792969';
  });

  __d('WAWebIsOfficialClient', [], (g, r, d, n, l, module, exports) => {
    exports.__esModule = true;
    exports.isOfficialClient = false; // src/whatsapp/misc/IsOfficialClient.ts; wa-js sets it
  });

  __d('WAWebSocketConstants', [], (g, r, d, n, l, module, exports) => {
    exports.__esModule = true;
    // src/whatsapp/enums/SOCKET_STATE.ts
    exports.SOCKET_STATE = {
      OPENING: 'OPENING', PAIRING: 'PAIRING', UNPAIRED: 'UNPAIRED', UNPAIRED_IDLE: 'UNPAIRED_IDLE',
      CONNECTED: 'CONNECTED', TIMEOUT: 'TIMEOUT', CONFLICT: 'CONFLICT', UNLAUNCHED: 'UNLAUNCHED',
      PROXYBLOCK: 'PROXYBLOCK', TOS_BLOCK: 'TOS_BLOCK', SMB_TOS_BLOCK: 'SMB_TOS_BLOCK',
      DEPRECATED_VERSION: 'DEPRECATED_VERSION',
    };
    exports.SOCKET_STREAM = { DISCONNECTED: 'DISCONNECTED', SYNCING: 'SYNCING', RESUMING: 'RESUMING', CONNECTED: 'CONNECTED' };
    exports.WATCHED_SOCKET_STATE = { OPEN: 'OPEN', CLOSED: 'CLOSED' };
  });

  __d('WAWebStreamModel', ['WAWebBaseModel'], (g, require, d, n, l, module, exports) => {
    exports.__esModule = true;
    const { BaseModel } = require('WAWebBaseModel');
    class StreamModel extends BaseModel {}
    StreamModel.prototype.proxyName = 'stream';
    // Before WhatsApp decides, the mode is unset (wa-js emits nothing for it).
    exports.Stream = new StreamModel({ mode: undefined, info: undefined, needsUpdate: false });
    exports.StreamModel = StreamModel;
  });

  __d('WAWebSocketModel', ['WAWebBaseModel'], (g, require, d, n, l, module, exports) => {
    exports.__esModule = true;
    const { BaseModel } = require('WAWebBaseModel');
    class SocketModel extends BaseModel {
      // WhatsApp's logout: tell the server, then announce it (Cmd 'logout'); the
      // control script plays the server side (clears the stored login, reloads).
      logout() { S.control.logoutFromWeb(); }
    }
    SocketModel.prototype.proxyName = 'socket';
    exports.Socket = new SocketModel({ state: 'OPENING', stream: 'DISCONNECTED', hasSynced: false });
  });

  __d('WAWebConnModel', ['WAWebBaseModel'], (g, require, d, n, l, module, exports) => {
    exports.__esModule = true;
    const { BaseModel } = require('WAWebBaseModel');
    class ConnImpl extends BaseModel {}
    ConnImpl.prototype.proxyName = 'conn';
    exports.ConnImpl = ConnImpl;
    exports.Conn = new ConnImpl({ ref: undefined, connected: false, platform: undefined, pushname: undefined });
  });

  __d('WAWebCmd', ['WAWebBaseModel'], (g, require, d, n, l, module, exports) => {
    exports.__esModule = true;
    const { Events } = require('WAWebBaseModel');
    class CmdImpl extends Events {
      constructor() { super(); this.isMainLoaded = false; }
      mainLoaded() { this.isMainLoaded = true; this.trigger('main_loaded'); }
      logout() { this.trigger('logout'); }
      // src/chat/functions/deleteMessage.ts decides which one: revoke for everyone
      // (our own message, or any as group admin) or delete on this device only.
      async sendRevokeMsgs(chat, selection) {
        for (const msg of selection.list || selection) S.chatApi.revokeLocal(msg, true);
      }
      async sendDeleteMsgs(chat, selection) {
        for (const msg of selection.list || selection) S.chatApi.deleteLocal(chat, msg);
      }
    }
    exports.CmdImpl = CmdImpl;
    exports.Cmd = new CmdImpl();
  });

  __d('WAWebNetworkStatus', ['WAWebBaseModel'], (g, require, d, n, l, module, exports) => {
    exports.__esModule = true;
    const { BaseModel } = require('WAWebBaseModel');
    class NetworkStatus extends BaseModel {
      checkOnline() { return Promise.resolve(this.online); }
    }
    // src/whatsapp/misc/NetworkStatus.ts: `m.default.checkOnline`; registerOnlineEvent.ts
    exports.default = new NetworkStatus({ online: navigator.onLine, hasBeenOffline: false });
  });

  // src/whatsapp/functions/isAuthenticated.ts (`m.isLoggedIn`) and isRegistered.ts:
  // both are true once this browser holds login keys.
  __d('WAWebUserPrefsLoginTokens', [], (g, r, d, n, l, module, exports) => {
    exports.__esModule = true;
    exports.isLoggedIn = () => S.control.state.loggedIn;
  });
  __d('WAWebUserPrefsRegistration', [], (g, r, d, n, l, module, exports) => {
    exports.__esModule = true;
    exports.isRegistered = () => S.control.state.loggedIn;
  });

  // src/whatsapp/misc/UserPrefs.ts; src/loader polls `WAWebUserPrefsMeUser` after
  // conn.main_init; src/conn/functions/getMyUserWid.ts / getMyUserLid.ts.
  __d('WAWebUserPrefsMeUser', ['WAWebWidFactory'], (g, require, d, n, l, module, exports) => {
    exports.__esModule = true;
    const WidFactory = require('WAWebWidFactory');
    const pn = () => (S.control.state.loggedIn ? WidFactory.createUserWid(S.control.config.me, 'c.us') : undefined);
    const lid = () => (S.control.state.loggedIn ? WidFactory.createUserWid(S.control.config.meLid, 'lid') : undefined);
    const orThrow = (fn) => () => {
      const value = fn();
      if (!value) throw new Error('user not logged in');
      return value;
    };
    exports.getMaybeMePnUser = pn;
    exports.getMaybeMeLidUser = lid;
    exports.getMePnUserOrThrow = orThrow(pn);
    exports.getMeLidUserOrThrow = orThrow(lid);
    exports.assertGetMe = orThrow(pn);
    exports.assertGetMeUser = orThrow(pn);
    exports.getMeUser = orThrow(pn);
    exports.getMaybeMeDisplayName = () => S.control.config.pushname;
    exports.isMeAccount = (w) => Boolean(w) && [String(pn()), String(lid())].includes(String(w));
    exports.isSerializedWidMe = exports.isMeAccount;
  });

  // src/whatsapp/multidevice/{waSignalStore,waNoiseInfo,adv}.ts and misc/Base64.ts:
  // the three keys getAuthCode() joins after the ref into the QR payload.
  __d('WAWebSignalStoreApi', [], (g, r, d, n, l, module, exports) => {
    exports.__esModule = true;
    exports.waSignalStore = {
      getRegistrationInfo: async () => ({ registrationId: 1, identityKeyPair: { pubKey: S.control.keys.identity, privKey: new ArrayBuffer(32) } }),
    };
  });
  __d('WAWebNoiseInfo', [], (g, r, d, n, l, module, exports) => {
    exports.__esModule = true;
    exports.waNoiseInfo = {
      get: async () => ({ recoveryToken: new ArrayBuffer(24), staticKeyPair: { pubKey: S.control.keys.noise, privKey: new ArrayBuffer(32) } }),
    };
  });
  __d('WAWebAdvSignature', [], (g, r, d, n, l, module, exports) => {
    exports.__esModule = true;
    exports.getADVSecretKey = () => S.control.keys.adv;
    exports.setADVSignedIdentity = () => undefined;
    exports.generateADVSecretKey = () => S.control.keys.adv;
  });
  __d('WAWebBase64', [], (g, r, d, n, l, module, exports) => {
    exports.__esModule = true;
    exports.encodeB64 = (buffer) => btoa(String.fromCharCode(...new Uint8Array(buffer)));
    exports.decodeB64 = (text) => Uint8Array.from(atob(text), (c) => c.charCodeAt(0)).buffer;
  });

  // Phone-number linking (src/whatsapp/functions/genLinkDeviceCodeForPhoneNumber.ts,
  // initializeAltDeviceLinking.ts, misc/LinkDeviceEvents.ts; wa-js's refresh loop is
  // src/conn/functions/linkDeviceCodeLifecycle.ts).
  __d('WAWebLinkDeviceEvents', ['WAWebBaseModel'], (g, require, d, n, l, module, exports) => {
    exports.__esModule = true;
    const { Events } = require('WAWebBaseModel');
    exports.WAWebLinkDeviceEvents = new Events();
  });
  __d('WAWebAltDeviceLinkingApi', [], (g, r, d, n, l, module, exports) => {
    exports.__esModule = true;
    exports.initializeAltDeviceLinking = async () => { S.control.state.altLinking = true; };
    exports.genLinkDeviceCodeForPhoneNumber = async (phone, push) => S.control.newPairingCode(phone, push);
  });

  // src/whatsapp/functions/logoutReason.ts; wa-js wraps getErrorCodeFromLogoutReason to
  // emit conn.logout_reason (src/conn/events/registerLogoutReasonEvent.ts).
  __d('WAWebLogoutReasonConstants', [], (g, r, d, n, l, module, exports) => {
    exports.__esModule = true;
    let prev = null;
    exports.getErrorCodeFromLogoutReason = (reason) => (reason == null ? null : `logout_${reason}`);
    exports.setPrevLogoutReasonCode = (code) => { prev = code; };
    exports.getPrevLogoutReasonCode = () => prev;
    exports.setPrevCustomLogoutMessage = () => undefined;
    exports.getPrevCustomLogoutMessage = () => null;
  });

  // src/whatsapp/misc/BackendEventBus.ts (src/conn/events/registerBackendEventBusEvents.ts)
  __d('WAWebBackendEventBus', ['WAWebBaseModel'], (g, require, d, n, l, module, exports) => {
    exports.__esModule = true;
    const { Events } = require('WAWebBaseModel');
    exports.BackendEventBus = new Events();
    exports.BackendEvent = { LOGOUT: 'logout' };
  });
})();

/*
 * A fake WhatsApp Web, as seen through wa-js: a stand-in window.WPP with the functions
 * and events the wacc adapter uses, and window.__fake, the control hook tests drive
 * from Python (FakeWhatsAppWeb in __init__.py).
 *
 * Why a stand-in: the real wa-js bundle IS injected into this page (by the engine's
 * init script, which is what is under test), but it works by finding WhatsApp's own
 * webpack modules, which this page does not have. So this script, running after the
 * init scripts like WhatsApp's own code would, records what the real wa-js looked like
 * (window.__fake.realWpp) and then replaces window.WPP with a stand-in that follows
 * wa-js's documented API (dist/*.d.ts of the pinned version): same function names,
 * arguments, return shapes, event names and payloads.
 *
 * It loads under a strict nonce-based CSP (set by the Python side), like the real
 * WhatsApp Web: a script injected any other way than an init script would not run.
 */
(() => {
  'use strict';
  const config = window.__fakeConfig || {};
  const ME = config.me || '15550000001';
  const PAIRED_KEY = 'fake-whatsapp.paired';

  const realWpp = window.WPP;
  const fake = {
    realWpp: realWpp ? { version: realWpp.version, license: realWpp.license, injected: true } : null,
    calls: [],
    qrAttempt: 0,
    messages: new Map(), // serialized id -> message model (sent and received)
    media: new Map(), // serialized id -> {data (base64), mimetype}
    failNext: null, // {fn, code, message}: make the next call of fn throw like wa-js
  };

  // -- WhatsApp value shapes ---------------------------------------------------------------

  function wid(id) {
    const text = id.includes('@') ? id : `${id}@c.us`;
    const [user, server] = text.split('@');
    return { _serialized: text, user, server, toString: () => text };
  }
  function msgKey(fromMe, remote, id) {
    const r = wid(remote);
    const text = `${fromMe}_${r._serialized}_${id}`;
    return { fromMe, remote: r, id, _serialized: text, toString: () => text };
  }
  let counter = 0;
  function newId() {
    counter += 1;
    return `3EB0FAKE${String(Date.now() % 1e8).padStart(8, '0')}${counter}`;
  }

  // -- events (the subset of wa-js's EventEmitter the adapter uses) ----------------------

  const listeners = new Map();
  function on(name, fn) {
    if (!listeners.has(name)) listeners.set(name, []);
    listeners.get(name).push(fn);
  }
  function emit(name, ...args) {
    for (const fn of listeners.get(name) || []) fn(...args);
  }

  // -- connection state -------------------------------------------------------------------

  const state = { authenticated: false, ready: false, qrTimer: null, blocked: new Set() };
  const paired = () => config.paired || localStorage.getItem(PAIRED_KEY) === '1';

  function record(fn, args) {
    fake.calls.push({ fn, args: JSON.parse(JSON.stringify(args, (k, v) => (v instanceof Blob ? '[blob]' : v))) });
    if (fake.failNext && fake.failNext.fn === fn) {
      const failure = fake.failNext;
      fake.failNext = null;
      const error = new Error(failure.message || failure.code);
      error.code = failure.code;
      throw error;
    }
  }

  function showQr() {
    fake.qrAttempt += 1;
    const code = `2@fake-qr-${fake.qrAttempt},${'k'.repeat(8)},${ME}`;
    state.authCode = { type: 'multidevice', ref: `ref-${fake.qrAttempt}`, fullCode: code };
    emit('conn.auth_code_change', state.authCode);
  }
  function startQr() {
    emit('conn.stream_mode_changed', 'QR');
    showQr();
    state.qrTimer = setInterval(showQr, config.qrIntervalMs || 20000);
  }
  function stopQr() {
    clearInterval(state.qrTimer);
    state.qrTimer = null;
  }
  function becomeReady() {
    state.authenticated = true;
    emit('conn.stream_info_changed', 'SYNCING');
    setTimeout(() => {
      state.ready = true;
      emit('conn.stream_mode_changed', 'MAIN');
      emit('conn.main_ready');
    }, config.syncMs || 50);
  }

  // -- the stand-in WPP -------------------------------------------------------------------

  function sent(to, type, fields) {
    const id = fields.messageId || newId();
    const key = msgKey(true, to, id);
    const msg = { id: key, from: wid(ME), to: wid(to), type, t: Math.floor(Date.now() / 1000), ...fields.model };
    fake.messages.set(key._serialized, msg);
    // Like wa-js: messages sent from this client also arrive as new messages.
    setTimeout(() => emit('chat.new_message', msg), 0);
    return { id: key._serialized, ack: 0, sendMsgResult: { messageSendResult: 'OK' } };
  }

  const WPP = {
    version: 'fake',
    on,
    loader: { onReady: (fn) => setTimeout(fn, 0) },
    conn: {
      isMainReady: () => state.ready,
      isAuthenticated: () => state.authenticated,
      getAuthCode: async () => (state.authenticated ? null : state.authCode || null),
      getMyUserId: () => (state.authenticated ? wid(ME) : undefined),
      genLinkDeviceCodeForPhoneNumber: async (phone, push) => {
        record('conn.genLinkDeviceCodeForPhoneNumber', [phone, push]);
        stopQr();
        return 'FAKE1234';
      },
      logout: async () => {
        record('conn.logout', []);
        // Tell "WhatsApp's servers" (the Python side), as the real logout would.
        await fetch('/fake/logout', { method: 'POST' }).catch(() => {});
        fake.remoteLogout();
        return true;
      },
    },
    chat: {
      getQuotedMsgKey: (msg) => msgKey(false, msg.id.remote._serialized, msg.quotedStanzaID),
      getMessageById: async (id) => {
        record('chat.getMessageById', [id]);
        const msg = fake.messages.get(id);
        if (!msg) {
          const error = new Error(`Message ${id} not found`);
          error.code = 'msg_not_found';
          throw error;
        }
        return msg;
      },
      sendTextMessage: async (to, content, options) => {
        record('chat.sendTextMessage', [to, content, options]);
        return sent(to, 'chat', { messageId: options.messageId, model: { body: content } });
      },
      sendFileMessage: async (to, content, options) => {
        record('chat.sendFileMessage', [to, content, options]);
        const type = options.type === 'audio' ? 'audio' : options.type;
        return sent(to, type, {
          messageId: options.messageId,
          model: { caption: options.caption, mimetype: options.mimetype, filename: options.filename },
        });
      },
      sendLocationMessage: async (to, options) => {
        record('chat.sendLocationMessage', [to, options]);
        return sent(to, 'location', {
          messageId: options.messageId,
          model: { lat: options.lat, lng: options.lng, loc: [options.name, options.address].filter(Boolean).join('\n') },
        });
      },
      sendVCardContactMessage: async (to, contacts, options) => {
        record('chat.sendVCardContactMessage', [to, contacts, options]);
        const body = contacts.map((c) => `BEGIN:VCARD\nVERSION:3.0\nFN:${c.name}\nTEL;type=CELL;waid=${c.id.split('@')[0]}:+${c.id.split('@')[0]}\nEND:VCARD`).join('\n');
        return sent(to, contacts.length > 1 ? 'multi_vcard' : 'vcard', { messageId: options.messageId, model: { body } });
      },
      sendCreatePollMessage: async (to, name, choices, options) => {
        record('chat.sendCreatePollMessage', [to, name, choices, options]);
        return sent(to, 'poll_creation', {
          messageId: options.messageId,
          model: { pollName: name, pollOptions: choices.map((n, i) => ({ name: n, localId: i })), pollSelectableOptionsCount: options.selectableCount },
        });
      },
      sendReactionToMessage: async (messageId, reaction) => {
        record('chat.sendReactionToMessage', [messageId, reaction]);
        return { sendMsgResult: 'OK' };
      },
      editMessage: async (msgId, newText, options) => {
        record('chat.editMessage', [msgId, newText, options]);
        return { id: msgId, ack: 1, sendMsgResult: null };
      },
      deleteMessage: async (chatId, ids, deleteMediaInDevice, revoke) => {
        record('chat.deleteMessage', [chatId, ids, deleteMediaInDevice, revoke]);
        return { id: ids, sendMsgResult: 'OK', isRevoked: true, isDeleted: false, isSentByMe: true };
      },
      markIsRead: async (chatId) => {
        record('chat.markIsRead', [chatId]);
        return { wid: wid(chatId), unreadCount: 0 };
      },
      markIsComposing: async (chatId, duration) => {
        record('chat.markIsComposing', [chatId, duration === undefined ? null : duration]);
      },
      markIsPaused: async (chatId) => {
        record('chat.markIsPaused', [chatId]);
      },
      downloadMedia: async (id) => {
        record('chat.downloadMedia', [id]);
        const media = fake.media.get(id);
        if (!media) {
          const error = new Error(`Message ${id} not found`);
          error.code = 'msg_not_found';
          throw error;
        }
        const bytes = Uint8Array.from(atob(media.data), (c) => c.charCodeAt(0));
        return new Blob([bytes], { type: media.mimetype });
      },
    },
    contact: {
      getProfilePictureUrl: async (id, full) => {
        record('contact.getProfilePictureUrl', [id, full]);
        return id.startsWith('0') ? null : `https://pps.whatsapp.net/fake/${id.split('@')[0]}.jpg`;
      },
      getPnLidEntry: async (id) => {
        record('contact.getPnLidEntry', [id]);
        const phone = (config.lids || {})[id];
        return phone ? { lid: wid(id), phoneNumber: wid(`${phone}@c.us`) } : { lid: wid(id) };
      },
    },
    blocklist: {
      all: async () => [...state.blocked].map(wid),
      blockContact: async (id) => {
        record('blocklist.blockContact', [id]);
        state.blocked.add(id);
        return { wid: wid(id), isBlocked: true };
      },
      unblockContact: async (id) => {
        record('blocklist.unblockContact', [id]);
        state.blocked.delete(id);
        return { wid: wid(id), isBlocked: false };
      },
    },
  };

  // -- the control hook -------------------------------------------------------------------

  Object.assign(fake, {
    scan() {
      stopQr();
      localStorage.setItem(PAIRED_KEY, '1');
      emit('conn.stream_info_changed', 'PAIRING');
      emit('conn.authenticated');
      becomeReady();
    },
    qrIdle() {
      stopQr();
      emit('conn.qrcode_idle');
    },
    // spec: {from, type, body, caption, ...model fields, media: {data, mimetype}}
    inbound(spec) {
      const id = spec.id || newId();
      const chat = spec.chat || spec.from;
      const key = msgKey(Boolean(spec.fromMe), chat, id);
      const msg = {
        id: key,
        from: wid(spec.fromMe ? ME : spec.from),
        to: wid(spec.fromMe ? spec.from : ME),
        t: spec.t || Math.floor(Date.now() / 1000),
        notifyName: spec.notifyName,
        ...spec.model,
        type: spec.type || 'chat',
      };
      if (spec.author) msg.author = wid(spec.author);
      if (spec.media) {
        fake.media.set(key._serialized, spec.media);
        msg.mimetype = spec.media.mimetype;
      }
      fake.messages.set(key._serialized, msg);
      emit('chat.new_message', msg);
      return key._serialized;
    },
    ack(chat, ids, ack) {
      emit('chat.msg_ack_change', { ack, chat: wid(chat), ids: ids.map((id) => {
        const [fromMe, remote, rest] = id.split('_');
        return msgKey(fromMe === 'true', remote, rest);
      }) });
    },
    revoke(serializedId, author) {
      const [fromMe, remote, rest] = serializedId.split('_');
      emit('chat.msg_revoke', {
        author: author ? wid(author) : undefined,
        from: wid(remote), to: wid(ME), id: msgKey(false, remote, newId()),
        refId: msgKey(fromMe === 'true', remote, rest), type: 'revoke',
      });
    },
    edit(serializedId, body) {
      const msg = fake.messages.get(serializedId);
      msg.body = body;
      msg.latestEditSenderTimestampMs = Date.now();
      emit('chat.msg_edited', { chat: msg.id.remote, id: serializedId, msg });
    },
    react(serializedId, sender, emoji) {
      const [fromMe, remote, rest] = serializedId.split('_');
      emit('chat.new_reaction', {
        id: msgKey(false, remote, newId()), msgId: msgKey(fromMe === 'true', remote, rest),
        reactionText: emoji, read: false, sender: wid(sender), orphan: 0, orphanReason: null,
        timestamp: Math.floor(Date.now() / 1000),
      });
    },
    blockFromPhone(id) {
      state.blocked.add(id);
      emit('blocklist.sync');
    },
    remoteLogout(reason) {
      localStorage.removeItem(PAIRED_KEY);
      state.authenticated = state.ready = false;
      if (reason) emit('conn.logout_reason', reason);
      emit('conn.logout');
    },
    streamMode(mode) {
      emit('conn.stream_mode_changed', mode);
    },
    needsUpdate() {
      emit('conn.needs_update');
    },
    reload() {
      setTimeout(() => location.reload(), 0);
    },
    hang() {
      // A busy loop: the renderer's main thread never comes back, like a wedged page.
      setTimeout(() => { for (;;) { /* hung */ } }, 0);
    },
    emitRaw(payload) {
      window.__waccEmit(payload);
    },
    injectScriptTag(source) {
      // What a naive injection would do: blocked by the CSP (no nonce).
      const el = document.createElement('script');
      el.textContent = source;
      document.head.appendChild(el);
    },
    fail(fn, code, message) {
      fake.failNext = { fn, code, message };
    },
  });
  window.__fake = fake;

  // Replace the real wa-js (through the adapter's setter, which re-subscribes).
  window.WPP = WPP;

  // -- boot, like WhatsApp Web: restore the session or show QR codes ----------------------
  if (config.neverBoot) return; // stays "opening" forever
  emit('conn.stream_info_changed', 'OPENING');
  setTimeout(() => {
    if (paired()) becomeReady();
    else startQr();
  }, config.bootMs || 50);
})();

/*
 * wacc adapter for WhatsApp Web: the only code of ours that runs inside the page.
 *
 * It sits between wa-js (window.WPP, which knows WhatsApp's internal modules) and the
 * wacc web engine in Python, and keeps both sides simple:
 *
 * - events: it listens to WPP's events and forwards each one, already shaped as an
 *   engine-contract event ({"kind": "message", ...}, see wacc/engines/contract.py), as a
 *   JSON string through ONE function the engine exposes: window.__waccEmit(json).
 * - actions: Python calls window.__wacc.call(name, args) and gets back
 *   {ok: true, value} or {ok: false, code, message}; it never names a WPP function.
 *
 * It is installed by an init script together with wa-js, so it runs again before
 * WhatsApp's own scripts after every reload. WPP is looked up on each use, and the
 * adapter re-subscribes if window.WPP is ever replaced.
 *
 * Logged in means: the stream is MAIN *and* this browser is registered. wa-js's own
 * conn.main_ready / conn.isMainReady() are no such thing: they fire once per page on
 * the first QR *or* MAIN stream mode (wa-js src/conn/events/registerMainReadyEvent.ts).
 */
(() => {
  'use strict';
  if (window.__wacc) return;

  // -- the channel to Python -----------------------------------------------------------

  // Playwright installs __waccEmit with its own init script; the order of init scripts
  // is not guaranteed, so events wait here until the binding exists.
  const backlog = [];
  function emit(event) {
    const json = JSON.stringify(event);
    if (typeof window.__waccEmit !== 'function') {
      backlog.push(json);
      if (backlog.length === 1) setTimeout(flush, 50);
      return;
    }
    flush();
    window.__waccEmit(json);
  }
  function flush() {
    if (typeof window.__waccEmit !== 'function') {
      if (backlog.length) setTimeout(flush, 50);
      return;
    }
    while (backlog.length) window.__waccEmit(backlog.shift());
  }
  function report(where, error) {
    // Visible in the engine's debug log (it forwards console output), never fatal.
    console.warn('[wacc adapter]', where, error && error.stack ? error.stack : String(error));
  }

  // -- WhatsApp values -> contract values ----------------------------------------------

  function serialized(wid) {
    if (!wid) return null;
    if (typeof wid === 'string') return wid;
    if (wid._serialized) return wid._serialized;
    return String(wid);
  }

  // "15551234567@c.us" -> Peer with phone "+15551234567"; hidden "@lid" ids and groups
  // have no phone number we can know here (IdentityMapped reports it later).
  function peer(wid, name) {
    const id = serialized(wid);
    if (!id) return null;
    const at = id.indexOf('@');
    const user = at < 0 ? id : id.slice(0, at);
    const server = at < 0 ? 'c.us' : id.slice(at + 1);
    const out = { wa_id: at < 0 ? id + '@c.us' : id };
    if ((server === 'c.us' || server === 's.whatsapp.net') && /^\d+$/.test(user)) out.phone = '+' + user;
    if (name) out.name = String(name);
    return out;
  }

  // "status@broadcast", broadcast lists ("…@broadcast") and channels ("…@newsletter").
  function isFeedId(id) {
    return /@(broadcast|newsletter)$/.test(String(id || ''));
  }

  // A group's subject, as the chat list shows it (wa-js src/chat/functions/get.ts; the
  // subject lives in the chat's group metadata). null for one-to-one chats.
  function groupSubject(wid) {
    const id = serialized(wid);
    if (!/@g\.us$/.test(String(id || ''))) return null;
    try {
      const chat = window.WPP.chat.get(id);
      const meta = chat && get(chat, 'groupMetadata');
      return (meta && get(meta, 'subject')) || (chat && (get(chat, 'name') || get(chat, 'formattedTitle'))) || null;
    } catch (e) {
      return null;
    }
  }

  function seconds(t) {
    const n = Number(t);
    if (!Number.isFinite(n) || n <= 0) return Date.now() / 1000;
    // Some WhatsApp timestamps are in milliseconds, most in seconds.
    return n > 1e12 ? n / 1000 : n;
  }

  function base64ToHex(b64) {
    try {
      const bin = atob(b64);
      let hex = '';
      for (let i = 0; i < bin.length; i++) hex += bin.charCodeAt(i).toString(16).padStart(2, '0');
      return hex;
    } catch (e) {
      return null;
    }
  }

  const MEDIA_TYPES = {
    image: 'IMAGE', video: 'VIDEO', audio: 'AUDIO', ptt: 'AUDIO', document: 'DOCUMENT',
    sticker: 'STICKER', ptv: 'VIDEO', // ptv: a round "video note"
  };
  // Types whose `body` is text a person wrote. Media types carry a base64 JPEG
  // preview in `body`, and types we do not know may carry anything: never TEXT.
  const TEXT_TYPES = new Set([
    'chat', 'list', 'list_response', 'buttons_response', 'template_button_reply', 'interactive',
    'hsm', 'native_flow', 'button_reply',
  ]);
  // WhatsApp message types that are system notices, not something a person wrote.
  const SKIPPED_TYPES = new Set([
    'e2e_notification', 'notification', 'notification_template', 'gp2', 'call_log',
    'protocol', 'ciphertext', 'revoked', 'broadcast_notification', 'pinned_message',
    'reaction', 'poll_update', 'keep_in_chat',
  ]);

  function get(msg, key) {
    // Backbone-style models expose attributes as properties; plain objects too.
    if (msg == null) return undefined;
    if (msg[key] !== undefined) return msg[key];
    return msg.attributes ? msg.attributes[key] : undefined;
  }

  function quotedId(msg) {
    if (!get(msg, 'quotedStanzaID')) return null;
    try {
      const key = window.WPP.chat.getQuotedMsgKey(msg);
      return serialized(key);
    } catch (e) {
      return null;
    }
  }

  function toMessage(msg) {
    const type = get(msg, 'type');
    if (!type || SKIPPED_TYPES.has(type)) return null;
    const key = get(msg, 'id') || {};
    const fromMe = Boolean(key.fromMe);
    const chatWid = key.remote || (fromMe ? get(msg, 'to') : get(msg, 'from'));
    // Status updates, broadcast lists and channels are feeds, never conversations.
    if (isFeedId(serialized(chatWid))) return null;
    const senderWid = fromMe ? (me() || get(msg, 'from')) : (get(msg, 'author') || get(msg, 'from'));
    const event = {
      kind: 'message',
      id: serialized(key),
      chat: peer(chatWid, groupSubject(chatWid)),
      sender: peer(senderWid, fromMe ? null : get(msg, 'notifyName')),
      from_me: fromMe,
      timestamp: seconds(get(msg, 't')),
      raw: { wa_type: type },
    };
    const quoted = quotedId(msg);
    if (quoted) event.quoted_id = quoted;

    if (MEDIA_TYPES[type]) {
      event.type = MEDIA_TYPES[type];
      const caption = get(msg, 'caption');
      if (caption) event.body = caption;
      event.media = {
        mime_type: get(msg, 'mimetype') || 'application/octet-stream',
        fetch: event.id,
      };
      if (get(msg, 'filename')) event.media.filename = get(msg, 'filename');
      if (Number.isFinite(get(msg, 'size'))) event.media.size = get(msg, 'size');
      const sha = get(msg, 'filehash') && base64ToHex(get(msg, 'filehash'));
      if (sha) event.media.sha256 = sha;
      if (type === 'ptt') event.raw.voice_note = true;
      if (type === 'ptv') event.raw.video_note = true;
    } else if (type === 'location') {
      event.type = 'LOCATION';
      // WhatsApp keeps the place as "name\naddress" in one field.
      const [name, ...rest] = String(get(msg, 'loc') || '').split('\n');
      event.location = { latitude: Number(get(msg, 'lat')), longitude: Number(get(msg, 'lng')) };
      if (name) event.location.name = name;
      if (rest.length) event.location.address = rest.join('\n');
    } else if (type === 'vcard' || type === 'multi_vcard') {
      event.type = 'CONTACT';
      const list = get(msg, 'vcardList');
      event.vcard = type === 'multi_vcard' && Array.isArray(list)
        ? list.map((c) => c.vcard).join('\n')
        : String(get(msg, 'body') || '');
    } else if (type === 'poll_creation') {
      event.type = 'POLL';
      event.poll = {
        question: String(get(msg, 'pollName') || ''),
        options: (get(msg, 'pollOptions') || []).map((o) => String(o.name)),
        selectable_count: Number(get(msg, 'pollSelectableOptionsCount')) || 1,
      };
    } else if (TEXT_TYPES.has(type)) {
      const body = get(msg, 'body');
      if (typeof body !== 'string') return null;
      event.type = 'TEXT';
      event.body = body;
    } else {
      // Something WhatsApp added that we do not know: keep that it came, not its bytes.
      // `details` is stored with the message (the inbox shows the raw type), `raw` not.
      event.type = 'UNSUPPORTED';
      event.details = { unsupported: { type: String(type) } };
    }
    return event;
  }

  function me() {
    try {
      return window.WPP.conn.getMyUserId();
    } catch (e) {
      return null;
    }
  }
  function myLid() {
    try {
      return serialized(window.WPP.conn.getMyUserLid());
    } catch (e) {
      return null;
    }
  }
  const isGroupId = (id) => /@g\.us$/.test(String(id || ''));

  // The key of a message we sent, as the store keeps it: in a group wa-js puts our own
  // LID as participant (src/chat/functions/generateMessageID.ts). Receipts from a group
  // name the member who read instead; rebuild the key so it matches what we stored.
  function ownKey(chatId, id) {
    const lid = isGroupId(chatId) ? myLid() : null;
    return `true_${chatId}_${id}` + (lid ? `_${lid}` : '');
  }

  // -- hidden @lid ids -> phone numbers --------------------------------------------------

  const knownLids = new Set();
  function mapLid(wid) {
    const id = serialized(wid);
    if (!id || !id.endsWith('@lid') || knownLids.has(id)) return;
    knownLids.add(id);
    const lookup = window.WPP.contact && window.WPP.contact.getPnLidEntry;
    if (typeof lookup !== 'function') return;
    Promise.resolve(lookup(id)).then((entry) => {
      const pn = entry && entry.phoneNumber && (entry.phoneNumber.user || entry.phoneNumber.id
        || String(serialized(entry.phoneNumber)).split('@')[0]);
      if (pn && /^\d+$/.test(pn)) emit({ kind: 'identity', lid: id, phone: '+' + pn });
      else knownLids.delete(id); // not known yet: ask again with the next message
    }, () => knownLids.delete(id));
  }

  // -- blocklist changes made on the phone -----------------------------------------------

  let blocked = null; // Set of serialized ids, filled once WhatsApp is ready
  async function syncBlocklist(initial) {
    const list = await window.WPP.blocklist.all();
    const now = new Set((list || []).map(serialized));
    if (!initial && blocked) {
      for (const id of now) if (!blocked.has(id)) emit({ kind: 'block', peer: peer(id), blocked: true });
      for (const id of blocked) if (!now.has(id)) emit({ kind: 'block', peer: peer(id), blocked: false });
    }
    blocked = now;
  }

  // -- subscriptions -----------------------------------------------------------------------

  const STREAM_ENDINGS = {
    CONFLICT: ['CONFLICT', 'WhatsApp Web was opened in another window'],
    TOS_BLOCK: ['TOS_BLOCK', 'WhatsApp blocked this number'],
    SMB_TOS_BLOCK: ['TOS_BLOCK', 'WhatsApp blocked this business number'],
    DEPRECATED_VERSION: ['NEEDS_UPDATE', 'WhatsApp requires a newer WhatsApp Web'],
    PROXYBLOCK: ['NETWORK', 'WhatsApp refused the connection (proxy blocked)'],
  };

  let readySent = false;
  let logoutReason = '';
  // Pairing codes: the first one is the answer to requestPairingCode (the engine
  // reports it); wa-js renews it before it expires (conn.link_code_change), and each
  // renewal is reported here.
  const pairing = { phone: null, code: null, requesting: false };
  const attached = new WeakSet();

  function attach(wpp) {
    if (!wpp || typeof wpp.on !== 'function' || attached.has(wpp)) return;
    attached.add(wpp);
    // Listeners stay on a replaced WPP object; only the current one may speak.
    const on = (name, fn) => wpp.on(name, (...args) => {
      if (window.WPP !== wpp) return;
      try {
        fn(...args);
      } catch (e) {
        report(name, e);
      }
    });

    on('conn.auth_code_change', (code) => {
      // The engine numbers the codes and stops after its limit.
      if (code && code.fullCode) emit({ kind: 'qr', code: code.fullCode, attempt: 0 });
    });
    on('conn.qrcode_idle', () => emit({
      kind: 'disconnected', reason: 'QR_TIMEOUT', detail: 'WhatsApp stopped showing QR codes',
    }));
    on('conn.authenticated', () => emit({ kind: 'authenticated' }));
    on('conn.link_code_change', (code) => {
      if (pairing.requesting || !pairing.phone || !code || code === pairing.code) return;
      pairing.code = String(code);
      emit({ kind: 'pairing_code', code: pairing.code, phone: '+' + pairing.phone });
    });
    on('conn.logout_reason', (reason) => { logoutReason = String(reason || ''); });
    on('conn.logout', () => {
      readySent = false; // a new login in this same page is announced again
      emit({
        kind: 'disconnected',
        reason: 'LOGGED_OUT',
        detail: logoutReason ? `logged out by WhatsApp (${logoutReason})` : 'logged out from the phone',
      });
    });
    on('conn.needs_update', () => emit({
      kind: 'disconnected', reason: 'NEEDS_UPDATE', detail: 'WhatsApp requires a newer WhatsApp Web',
    }));
    on('conn.stream_mode_changed', (mode) => {
      const ending = STREAM_ENDINGS[mode];
      if (ending) emit({ kind: 'disconnected', reason: ending[0], detail: ending[1] });
      else emit({ kind: 'state', state: String(mode) });
      if (mode === 'MAIN') checkReady(wpp);
    });
    on('conn.stream_info_changed', (info) => emit({ kind: 'state', state: String(info) }));
    on('conn.online', (online) => emit({ kind: 'state', state: online ? 'ONLINE' : 'OFFLINE' }));

    on('chat.new_message', (msg) => {
      const event = toMessage(msg);
      if (!event) return;
      emit(event);
      mapLid(get(msg, 'id') && get(msg, 'id').remote);
      mapLid(get(msg, 'author'));
    });
    on('chat.msg_ack_change', (change) => {
      for (const key of change.ids || []) {
        const chatId = serialized(key && key.remote) || serialized(change.chat);
        const id = key && key.fromMe && key.id ? ownKey(chatId, key.id) : serialized(key);
        emit({ kind: 'ack', id, chat: peer(chatId), ack: Number(change.ack) });
      }
    });
    on('chat.msg_revoke', (revoke) => {
      const ref = revoke.refId || {};
      const event = { kind: 'revoked', id: serialized(ref), chat: peer(ref.remote || revoke.from) };
      const by = revoke.author || revoke.from;
      if (by) event.by = peer(by);
      emit(event);
    });
    on('chat.msg_edited', (edit) => {
      const msg = edit.msg;
      const key = get(msg, 'id');
      const id = typeof edit.id === 'string' ? edit.id : serialized(key);
      const editedAt = get(msg, 'latestEditSenderTimestampMs');
      // wa-js reports msg.to as the chat: for an edit we received that is us, so the
      // chat is the message key's remote.
      emit({
        kind: 'edited',
        id,
        chat: peer((key && key.remote) || edit.chat),
        body: String(get(msg, 'body') || get(msg, 'caption') || ''),
        timestamp: editedAt ? editedAt / 1000 : Date.now() / 1000,
      });
    });
    on('chat.new_reaction', (reaction) => {
      const target = reaction.msgId || {};
      emit({
        kind: 'reaction',
        message_id: serialized(target),
        chat: peer(target.remote),
        sender: peer(reaction.sender),
        emoji: String(reaction.reactionText || ''),
        timestamp: seconds(reaction.timestamp),
      });
    });
    on('blocklist.sync', () => {
      syncBlocklist(false).catch((e) => report('blocklist.sync', e));
    });

    // The page may be further along than the events we just subscribed to (a late
    // subscription, or a session restored from the profile): report where it is now.
    // wa-js's loader.onReady does not replay for a late listener, so look first.
    const whenLoaded = (fn) => {
      if (wpp.isReady) setTimeout(fn, 0);
      else if (wpp.loader && typeof wpp.loader.onReady === 'function') wpp.loader.onReady(fn);
      else setTimeout(fn, 0);
    };
    whenLoaded(async () => {
      if (window.WPP !== wpp) return;
      try {
        if (!checkReady(wpp) && !wpp.conn.isAuthenticated()) {
          const code = await wpp.conn.getAuthCode();
          if (code && code.fullCode) emit({ kind: 'qr', code: code.fullCode, attempt: 0 });
        }
      } catch (e) {
        report('initial state', e);
      }
    });
  }

  // Logged in: the stream is MAIN and this browser holds a registered login.
  function loggedIn(W) {
    try {
      return W.conn.getStreamData().mode === 'MAIN' && W.conn.isRegistered() && Boolean(W.conn.getMyUserId());
    } catch (e) {
      return false;
    }
  }

  let waitingFullReady = false;
  function checkReady(W) {
    if (!loggedIn(W)) return false;
    if (!W.isFullReady) {
      // wa-js subscribes to acks, edits and reactions only once fully ready
      // (loader.full_ready, right after the stream's MAIN): wait for it, or the first
      // receipts would be lost.
      if (!waitingFullReady && W.loader && typeof W.loader.onFullReady === 'function') {
        waitingFullReady = true;
        W.loader.onFullReady(() => {
          waitingFullReady = false;
          checkReady(W);
        });
      }
      return true;
    }
    if (!readySent) {
      readySent = true;
      pairing.phone = pairing.code = null;
      emit({ kind: 'ready', me: peer(me()) });
      syncBlocklist(true).catch((e) => report('blocklist', e));
    }
    return true;
  }

  // -- actions -----------------------------------------------------------------------------

  class AdapterError extends Error {
    constructor(code, message) {
      super(message);
      this.code = code;
    }
  }

  function wpp() {
    const current = window.WPP;
    if (!current || !current.conn || !current.chat) {
      throw new AdapterError('NOT_READY', 'wa-js is not loaded in this page');
    }
    return current;
  }
  function ready() {
    const current = wpp();
    if (!loggedIn(current)) throw new AdapterError('NOT_READY', 'WhatsApp is not connected');
    return current;
  }

  function dataUrl(media) {
    return `data:${media.mime_type || 'application/octet-stream'};base64,${media.data}`;
  }

  function blobToBase64(blob) {
    return new Promise((resolve, reject) => {
      const reader = new FileReader();
      reader.onload = () => resolve(String(reader.result).replace(/^data:[^,]*,/, ''));
      reader.onerror = () => reject(reader.error);
      reader.readAsDataURL(blob);
    });
  }

  // The chat WhatsApp keeps for an id: a phone-number id may live under the
  // contact's hidden "@lid" id. Unknown chats stay unknown (wa-js: chat_not_found).
  async function knownChat(W, id) {
    const direct = W.chat.get(id);
    if (direct) return serialized(direct.id);
    if (/@c\.us$/.test(id)) {
      const entry = await Promise.resolve(W.contact.getPnLidEntry(id)).catch(() => null);
      const lid = entry && entry.lid && entry.lid._serialized;
      if (lid && W.chat.get(lid)) return lid;
    }
    return id;
  }

  async function findSent(W, key) {
    try {
      return await W.chat.getMessageById(key);
    } catch (e) {
      return null; // msg_not_found / chat_not_found: never sent
    }
  }

  const FILE_TYPES = {
    IMAGE: 'image', VIDEO: 'video', AUDIO: 'audio', DOCUMENT: 'document', STICKER: 'sticker',
  };

  async function send(m) {
    const W = ready();
    // Every send creates the chat if needed; link previews stay off, because wa-js
    // would fetch them through third-party servers (WPPConfig.linkPreviewApiServers).
    const options = { createChat: true };
    if (m.quoted_id) options.quotedMsg = m.quoted_id;
    let to = m.to;
    if (m.message_id && m.type !== 'REACTION') {
      // wa-js wants the whole key, for the chat WhatsApp resolves the id to (often the
      // contact's "@lid"): "true_<chat>_<id>[_<our lid> in groups]" (MsgKey.fromString
      // in src/chat/functions/prepareRawMessage.ts).
      const chat = await W.chat.find(m.to);
      to = serialized(chat.id);
      const key = ownKey(to, m.message_id);
      // The id is derived from wacc's idempotency key: if a message with it exists,
      // an earlier attempt got through (its answer was lost), so report that one.
      const existing = await findSent(W, key);
      if (existing) return { id: serialized(get(existing, 'id')), timestamp: seconds(get(existing, 't')), repeated: true };
      options.messageId = key;
    }
    let result;
    switch (m.type) {
      case 'TEXT':
        result = await W.chat.sendTextMessage(to, m.body || '', { ...options, linkPreview: false });
        break;
      case 'IMAGE': case 'VIDEO': case 'AUDIO': case 'DOCUMENT': case 'STICKER': {
        const fileOptions = { ...options, type: FILE_TYPES[m.type], mimetype: m.media.mime_type };
        if (m.media.filename) fileOptions.filename = m.media.filename;
        if (m.body && m.type !== 'AUDIO' && m.type !== 'STICKER') fileOptions.caption = m.body;
        result = await W.chat.sendFileMessage(to, dataUrl(m.media), fileOptions);
        break;
      }
      case 'LOCATION': {
        const loc = { ...options, lat: m.location.latitude, lng: m.location.longitude };
        if (m.location.name) loc.name = m.location.name;
        if (m.location.address) loc.address = m.location.address;
        result = await W.chat.sendLocationMessage(to, loc);
        break;
      }
      case 'CONTACT':
        result = await W.chat.sendVCardContactMessage(to, m.contacts, options);
        break;
      case 'POLL':
        result = await W.chat.sendCreatePollMessage(to, m.poll.question, m.poll.options, {
          ...options, selectableCount: m.poll.selectable_count,
        });
        break;
      case 'REACTION': {
        await W.chat.sendReactionToMessage(m.reaction_to, m.body || false);
        // WhatsApp gives a reaction no message id of its own to report.
        return { id: null, timestamp: Date.now() / 1000 };
      }
      default:
        throw new AdapterError('UNSUPPORTED', `cannot send messages of type ${m.type}`);
    }
    return { id: serialized(result && result.id), timestamp: Date.now() / 1000, ack: result && result.ack };
  }

  const HISTORY_PAGE = 100; // messages per wa-js getMessages call

  const actions = {
    ping: () => ({
      t: Date.now(),
      wpp: Boolean(window.WPP),
      version: window.WPP && window.WPP.version,
      boot_error: window.__waccBootError || null,
    }),
    send,
    edit: async ({ id, body }) => {
      await ready().chat.editMessage(id, body, { linkPreview: false });
    },
    revoke: async ({ id }) => {
      const W = ready();
      // deleteMessage(..., revoke=true) on a message we may not revoke quietly deletes
      // it on this device only (src/chat/functions/deleteMessage.ts): check first.
      const msg = await W.chat.getMessageById(id);
      const key = get(msg, 'id');
      const chat = serialized(key.remote);
      const mayRevoke = key.fromMe || (isGroupId(chat) && await W.group.iAmAdmin(chat).catch(() => false));
      if (!mayRevoke) {
        throw new AdapterError('NOT_ALLOWED', 'only the sender or a group admin can delete this message for everyone');
      }
      const result = await W.chat.deleteMessage(chat, serialized(key), false, true);
      if (!result || !result.isRevoked) {
        throw new AdapterError('NOT_ALLOWED', 'WhatsApp did not delete the message for everyone');
      }
    },
    markRead: async ({ chat }) => {
      const W = ready();
      await W.chat.markIsRead(await knownChat(W, chat));
    },
    typing: async ({ chat, on }) => {
      const W = ready();
      const id = await knownChat(W, chat);
      await (on ? W.chat.markIsComposing(id) : W.chat.markIsPaused(id));
    },
    profilePicture: async ({ id }) => (await ready().contact.getProfilePictureUrl(id, true)) || null,
    setBlocked: async ({ id, blocked: block }) => {
      const W = ready();
      const result = await (block ? W.blocklist.blockContact(id) : W.blocklist.unblockContact(id));
      // Keep the phone-side diff from reporting our own change a second time.
      if (blocked) (block ? blocked.add(id) : blocked.delete(id));
      return { blocked: result ? Boolean(result.isBlocked) : block };
    },
    downloadMedia: async ({ id }) => {
      const blob = await ready().chat.downloadMedia(id);
      return { data: await blobToBase64(blob), mime_type: blob.type || null };
    },
    // History (wacc.sessions.history): one-to-one chats with a message since `since`
    // (seconds), then each one's messages since then, oldest first. wa-js
    // src/chat/functions/list.ts (onlyUsers: c.us and lid chats, no groups, status or
    // channels) and getMessages.ts (count, direction 'before' from a full message id).
    historyChats: async ({ since }) => {
      const chats = await ready().chat.list({ onlyUsers: true, ignoreGroupMetadata: true });
      return chats
        .filter((c) => seconds(get(c, 't')) >= since && !isFeedId(serialized(get(c, 'id'))))
        .map((c) => peer(get(c, 'id'), get(c, 'name') || get(c, 'formattedTitle')));
    },
    history: async ({ chat, since, limit }) => {
      const W = ready();
      const max = Math.min(Number(limit) || 2000, 5000);
      const out = [];
      let page = await W.chat.getMessages(chat, { count: HISTORY_PAGE });
      while (page.length) {
        for (const msg of page) {
          if (seconds(get(msg, 't')) < since) continue;
          const event = toMessage(msg);
          if (event) out.push(event);
        }
        const oldest = page.reduce((a, b) => (seconds(get(b, 't')) < seconds(get(a, 't')) ? b : a));
        if (page.length < HISTORY_PAGE || seconds(get(oldest, 't')) < since || out.length >= max) break;
        page = await W.chat.getMessages(chat, {
          count: HISTORY_PAGE, direction: 'before', id: serialized(get(oldest, 'id')),
        });
      }
      out.sort((a, b) => a.timestamp - b.timestamp);
      return out.slice(-max);
    },
    requestPairingCode: async ({ phone }) => {
      const W = wpp();
      if (W.conn.isAuthenticated() || W.conn.isRegistered()) {
        throw new AdapterError('ALREADY_AUTHENTICATED', 'this session is already logged in');
      }
      // wa-js keeps the code fresh until it is used (src/conn/functions/linkDeviceCodeLifecycle.ts).
      pairing.requesting = true;
      try {
        const code = String(await W.conn.startLinkDeviceCodeForPhoneNumber(phone, true));
        pairing.phone = String(phone);
        pairing.code = code;
        return code;
      } finally {
        pairing.requesting = false;
      }
    },
    logout: async () => Boolean(await wpp().conn.logout()),
  };

  async function call(name, args) {
    const action = Object.prototype.hasOwnProperty.call(actions, name) ? actions[name] : null;
    if (!action) return { ok: false, code: 'UNSUPPORTED', message: `no adapter action ${name}` };
    try {
      return { ok: true, value: (await action(args || {})) ?? null };
    } catch (e) {
      // WPPError carries a snake_case code; plain errors (WhatsApp's own) do not.
      const code = e && e.code ? String(e.code).toUpperCase() : 'ERROR';
      return { ok: false, code, message: String((e && e.message) || e) };
    }
  }

  Object.defineProperty(window, '__wacc', {
    value: Object.freeze({ call, version: 1 }),
    enumerable: false,
  });

  // -- follow window.WPP -------------------------------------------------------------------

  let current = window.WPP;
  try {
    Object.defineProperty(window, 'WPP', {
      configurable: true,
      enumerable: true,
      get: () => current,
      set: (value) => {
        current = value;
        attach(value);
      },
    });
  } catch (e) {
    report('WPP property', e);
  }
  attach(current);
})();

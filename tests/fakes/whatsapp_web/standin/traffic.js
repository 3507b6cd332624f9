/*
 * The stand-in's message traffic from WhatsApp's servers, delivered through the same
 * WhatsApp Web entry points wa-js hooks (so wa-js's own event code runs):
 *
 * - new messages and protocol messages (revoke, edit) go through
 *   MsgStore.processMultipleMessages, which wa-js wraps to see revokes
 *   (src/chat/events/registerRevokeMessageEvent.ts); new messages land in MsgStore,
 *   whose 'add' becomes chat.new_message (registerNewMessageEvent.ts); an edit sets
 *   latestEditMsgKey, whose change becomes chat.msg_edited (registerEditedMessageEvent.ts);
 * - receipts call handleChatSimpleReceipt / handleGroupSimpleReceipt, which wa-js wraps
 *   into chat.msg_ack_change (registerAckMessageEvent.ts); a group receipt names the
 *   participant who read;
 * - reactions call addOrUpdateReactionsModelCollection(data, true), wrapped into
 *   chat.new_reaction (registerReactionsEvent.ts);
 * - a blocklist change from the phone re-sorts BlocklistStore (blocklist.sync).
 *
 * Message shapes follow WhatsApp Web's MsgModel as wa-js reads it (src/whatsapp/models/
 * MsgModel.ts): id (MsgKey), from, to, author (groups), t, type, body/caption, notifyName,
 * quotedStanzaID/quotedParticipant, mimetype/size/filehash/mediaData for media.
 */
(() => {
  'use strict';
  const S = window.__standin;
  const req = (id) => S.require(id);
  const wid = (w) => req('WAWebWidFactory').createWid(w);
  const Msgs = () => req('WAWebMsgCollection').MsgCollection;
  const me = () => req('WAWebUserPrefsMeUser');
  const MsgKey = () => req('WAWebMsgKey').default;
  let counter = 0;
  const newId = () => {
    counter += 1;
    return `3A${String(Date.now() % 1e10).padStart(10, '0')}${String(counter).padStart(8, '0')}`;
  };

  // What WhatsApp's servers know: media to download, profile pictures.
  const server = {
    media: new Map(), // serialized id -> {data: base64, mimetype}
    hiddenPictures: new Set(),
    profilePicture: (id) => (server.hiddenPictures.has(id) ? null : `https://pps.whatsapp.net/v/t61/${id.split('@')[0]}.jpg`),
  };
  S.server = server;

  // -- local effects of revokes and deletes (Cmd in conn.js, incoming revokes) ------------

  S.chatApi.revokeLocal = (msg) => {
    msg.set({ type: 'revoked', body: undefined, caption: undefined });
  };
  S.chatApi.deleteLocal = (chat, msg) => {
    chat.msgs.remove(msg);
    Msgs().remove(msg);
  };
  // Server messages: protocol messages change earlier ones, the rest are stored.
  S.chatApi.storeIncoming = (raw) => {
    if (raw.type === 'protocol') {
      const target = Msgs().get(raw.protocolMessageKey);
      if (!target) return;
      if (['revoke', 'sender_revoke', 'admin_revoke'].includes(raw.subtype)) S.chatApi.revokeLocal(target);
      if (raw.subtype === 'message_edit') {
        target.set(target.type === 'chat' ? { body: raw.body } : { caption: raw.body });
        target.set('latestEditSenderTimestampMs', raw.t * 1000);
        target.set('latestEditMsgKey', raw.id);
      }
      return;
    }
    S.chatApi.store(raw);
  };

  function deliver(chatId, raws) {
    // Through the property: wa-js replaced it with its wrapper.
    return Msgs().processMultipleMessages(wid(chatId), raws);
  }

  const MEDIA = new Set(['image', 'video', 'audio', 'ptt', 'document', 'sticker', 'ptv']);

  Object.assign(S.fake, {
    server,
    // The contact with phone number `pn` is known to WhatsApp by the hidden id `lid`.
    addLid(lid, pn) {
      req('WAWebApiContact').addLidMapping(lid, pn.includes('@') ? pn : `${pn}@c.us`);
    },
    addContact(id, fields) {
      req('WAWebContactCollection').ContactCollection.add({ id: wid(id), ...fields }, { merge: true });
    },
    // A group we are in; participants: [{id, isAdmin}]; our own LID is added.
    addGroup(id, subject, participants, iAmAdmin) {
      const list = participants.map((p) => ({ id: wid(p.id), isAdmin: Boolean(p.isAdmin) }));
      list.push({ id: me().getMaybeMeLidUser(), isAdmin: Boolean(iAmAdmin) });
      req('WAWebGroupMetadataCollection').default.addGroup(wid(id), subject, list);
      S.chatApi.chatFor(id).set('name', subject);
    },
    hidePicture(id) { server.hiddenPictures.add(id); },
    // spec: {chat, from (groups: the participant), type, body, caption, notifyName,
    //        quoted: {id, participant}, media: {data, mimetype, filename}, fromMe, id, t, fields}
    inbound(spec) {
      const chat = wid(spec.chat || spec.from);
      const fromMe = Boolean(spec.fromMe);
      const group = chat.isGroup() || chat.isStatusV3();
      const key = new (MsgKey())({
        fromMe, remote: chat, id: spec.id || newId(),
        participant: group ? (fromMe ? me().getMaybeMeLidUser() : wid(spec.from)) : undefined,
      });
      const raw = {
        id: key,
        from: fromMe ? (chat.isLid() || group ? me().getMaybeMeLidUser() : me().getMaybeMePnUser()) : chat,
        to: fromMe ? chat : (chat.isLid() ? me().getMaybeMeLidUser() : me().getMaybeMePnUser()),
        t: spec.t || Math.floor(Date.now() / 1000),
        type: spec.type || 'chat',
        isNewMsg: true,
        ack: fromMe ? 1 : 0,
        notifyName: spec.notifyName,
        ...(spec.fields || {}),
      };
      if (group) raw.author = fromMe ? me().getMaybeMeLidUser() : wid(spec.from);
      if (group && !fromMe) raw.from = chat;
      if (spec.body !== undefined) raw.body = spec.body;
      if (spec.caption !== undefined) raw.caption = spec.caption;
      if (spec.quoted) {
        raw.quotedStanzaID = spec.quoted.id;
        raw.quotedParticipant = wid(spec.quoted.participant);
        raw.quotedRemoteJid = chat;
      }
      if (spec.media && MEDIA.has(raw.type)) {
        server.media.set(key.toString(), spec.media);
        const bytes = atob(spec.media.data);
        raw.mimetype = spec.media.mimetype;
        raw.size = bytes.length;
        raw.filehash = spec.media.filehash || btoa(`hash-${key.id}`);
        raw.mediaData = { type: raw.type, mimetype: raw.mimetype, size: raw.size, filehash: raw.filehash, mediaStage: 'REUPLOAD' };
        if (spec.media.filename) raw.filename = spec.media.filename;
        // WhatsApp puts a small base64 JPEG preview in `body` of media messages.
        if (raw.body === undefined) raw.body = '/9j/4AAQSkZJRgABAQAAAQABAAD/2wBDAAgGBgcGBQgHBwcJCQgKDBQNDAsLDBkSEw8UHRofHh0aHBwgJC4nICIsIxwcKDcpLDAxNDQ0Hyc5PTgyPC4zNDL/';
      }
      deliver(chat, [raw]);
      return key.toString();
    },
    // The recipient's phone confirms delivery (2), reading (3) or playing (4). `ids`
    // are the bare message ids; `participant` is who read it, in a group.
    ack(chat, ids, ack, participant) {
      const from = wid(chat);
      // The fields of WhatsApp's SimpleAckData (wa-js src/whatsapp/functions/handleAck.ts).
      const ackString = { 2: 'delivery', 3: 'read', 4: 'played' }[ack] || null;
      const data = {
        type: ackString || 'delivery', stanzaId: ids[0], externalIds: ids, from,
        participant: participant ? wid(participant) : null, recipient: null,
        ts: Math.floor(Date.now() / 1000), ack, ackString, offline: null,
      };
      const handlers = req('WAWebHandleMsgReceipts');
      // Through the property: wa-js wrapped these.
      if (from.isGroup()) handlers.handleGroupSimpleReceipt(data);
      else handlers.handleChatSimpleReceipt(data);
      return true;
    },
    // The sender (or a group admin, `author`) revokes message `serialized` for everyone.
    revoke(serialized, author) {
      const target = MsgKey().fromString(serialized);
      const chat = target.remote;
      const key = new (MsgKey())({ fromMe: false, remote: chat, id: newId(), participant: chat.isGroup() ? wid(author || target.participant) : undefined });
      deliver(chat, [{
        id: key, type: 'protocol', subtype: author && chat.isGroup() ? 'admin_revoke' : 'revoke', isNewMsg: true,
        protocolMessageKey: target, from: chat, to: me().getMaybeMePnUser(),
        author: chat.isGroup() ? wid(author || target.participant) : undefined, t: Math.floor(Date.now() / 1000),
      }]);
    },
    // The sender edits their message (WhatsApp: only the sender, within 15 minutes).
    edit(serialized, body) {
      const target = MsgKey().fromString(serialized);
      const msg = Msgs().get(target);
      if (!msg) throw new Error(`no message ${serialized}`);
      if (msg.id.fromMe) throw new Error('only the sender edits a message');
      const chat = target.remote;
      const key = new (MsgKey())({ fromMe: false, remote: chat, id: newId(), participant: target.participant });
      deliver(chat, [{
        id: key, type: 'protocol', subtype: 'message_edit', isNewMsg: true, protocolMessageKey: target,
        body, from: chat, to: me().getMaybeMePnUser(), t: Math.floor(Date.now() / 1000),
      }]);
    },
    react(serialized, sender, emoji) {
      const parent = MsgKey().fromString(serialized);
      const key = new (MsgKey())({ fromMe: false, remote: parent.remote, id: newId(), participant: parent.remote.isGroup() ? sender : undefined });
      req('WAWebAddonReactionTableMode').addOrUpdateReactionsModelCollection({
        msgKey: key.toString(), parentMsgKey: parent.toString(), reactionText: emoji, senderUserJid: sender,
        t: Math.floor(Date.now() / 1000), orphan: 0, read: false,
      }, true);
    },
    blockFromPhone(id) {
      const store = req('WAWebBlocklistCollection').BlocklistCollection;
      store.add({ id: wid(id) });
      store.trigger('sort', store);
    },
    unblockFromPhone(id) {
      const store = req('WAWebBlocklistCollection').BlocklistCollection;
      store.remove(wid(id));
      store.trigger('sort', store);
    },
    message(serialized) {
      const msg = Msgs().get(serialized);
      return msg ? { id: msg.id.toString(), type: msg.type, body: msg.body, caption: msg.caption, ack: msg.ack } : null;
    },
    messageCount() { return Msgs().length; },
    // The next send fails in WhatsApp itself (a closed socket, say): a plain Error.
    failNextSend(message) { S.control.failNextSend = message || 'socket closed'; },
  });

  // What this account already knows when the page opens (WhatsApp loads it from its
  // database): hidden ids of contacts, groups we are in.
  const config = window.__fakeConfig || {};
  for (const [lid, pn] of Object.entries(config.lids || {})) S.fake.addLid(lid, pn);
  const groups = config.groups || [];
  if (groups.length) {
    // Group metadata needs our own LID, known once logged in.
    const addGroups = () => {
      if (!me().getMaybeMeLidUser()) return setTimeout(addGroups, 50);
      for (const g of groups) S.fake.addGroup(g.id, g.subject, g.participants, g.iAmAdmin);
      return undefined;
    };
    addGroups();
  }
})();

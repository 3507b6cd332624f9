/*
 * Stand-in for the WhatsApp Web functions wa-js 4.6.0 calls to send, edit, revoke,
 * react, read, type, download and block (paths under wa-js src/whatsapp/ unless said
 * otherwise). They keep WhatsApp's rules where wa-js depends on them:
 *
 * - findOrCreateLatestChat resolves a phone-number id to the contact's "@lid" chat when
 *   WhatsApp knows the mapping (src/chat/functions/find.ts);
 * - addAndSendMsgToChat stores the message under the key wa-js built (for a group it
 *   carries our LID as participant; src/chat/functions/generateMessageID.ts) and the
 *   server acknowledges it (ack 1) a moment later;
 * - only our own messages can be edited (canEditText) and within 15 minutes;
 * - Cmd.sendRevokeMsgs revokes for everyone, Cmd.sendDeleteMsgs only removes the
 *   message from this device (src/chat/functions/deleteMessage.ts chooses).
 * S.chatApi holds what control/traffic scripts share (storing inbound messages).
 */
(() => {
  'use strict';
  const __d = window.__d;
  const S = window.__standin;
  const req = (id) => S.require(id);
  const Chats = () => req('WAWebChatCollection').ChatCollection;
  const Msgs = () => req('WAWebMsgCollection').MsgCollection;
  const me = () => req('WAWebUserPrefsMeUser');
  const wid = (w) => req('WAWebWidFactory').createWid(w);
  const calls = (fn, args) => S.control && S.control.calls.push({ fn, args });
  const EDIT_WINDOW_S = 15 * 60; // WhatsApp lets a sender edit for 15 minutes

  // enums/ACK.ts, MSG_TYPE.ts, SendMsgResult.ts
  __d('WAWebAck', [], (g, r, d, n, l, module, exports) => {
    exports.__esModule = true;
    exports.ACK = {
      MD_DOWNGRADE: -7, INACTIVE: -6, CONTENT_UNUPLOADABLE: -5, CONTENT_TOO_BIG: -4, CONTENT_GONE: -3,
      EXPIRED: -2, FAILED: -1, CLOCK: 0, SENT: 1, RECEIVED: 2, READ: 3, PLAYED: 4, PEER: 5,
    };
    exports.ACK_STRING = { SENDER: 'sender', DELIVERY: 'delivery', READ: 'read', PLAYED: 'played' };
  });
  __d('WAWebMsgType', [], (g, r, d, n, l, module, exports) => {
    exports.__esModule = true;
    exports.MSG_TYPE = {
      NOTIFICATION: 'notification', PROTOCOL: 'protocol', CHAT: 'chat', LOCATION: 'location', VCARD: 'vcard',
      CIPHERTEXT: 'ciphertext', MULTI_VCARD: 'multi_vcard', REVOKED: 'revoked', IMAGE: 'image', VIDEO: 'video',
      AUDIO: 'audio', PTT: 'ptt', STICKER: 'sticker', DOCUMENT: 'document', LIST: 'list', REACTION: 'reaction',
      UNKNOWN: 'unknown',
    };
  });
  __d('WAWebSendMsgResultConstants', [], (g, r, d, n, l, module, exports) => {
    exports.__esModule = true;
    exports.SendMsgResult = { OK: 'OK', ERROR_NETWORK: 'ERROR_NETWORK', ERROR_EXPIRED: 'ERROR_EXPIRED', ERROR_UNKNOWN: 'ERROR_UNKNOWN' };
  });

  // functions/unixTime.ts (`m.unixTime`), functions/getEphemeralFields.ts
  __d('WAWebClock', [], (g, r, d, n, l, module, exports) => {
    exports.__esModule = true;
    exports.unixTime = () => Math.floor(Date.now() / 1000);
    exports.unixTimeMs = () => Date.now();
  });
  __d('WAWebGetEphemeralFieldsMsgActionsUtils', [], (g, r, d, n, l, module, exports) => {
    exports.__esModule = true;
    exports.getEphemeralFields = () => ({ ephemeralDuration: 0 });
  });

  // -- storing messages (shared with traffic.js) ------------------------------------------

  function chatFor(id) {
    const chats = Chats();
    return chats.get(id) || chats.add({ id: wid(id) })[0];
  }
  function store(raw) {
    const MsgModel = req('WAWebMsgModel').default;
    const msg = raw instanceof MsgModel ? raw : new MsgModel(raw);
    const chat = chatFor(msg.id.remote);
    chat.msgs.add(msg);
    // The chat list's order and getMessages' default anchor (chat.lastReceivedKey).
    chat.set({ t: msg.t, lastReceivedKey: msg.id });
    Msgs().add(msg);
    return msg;
  }
  S.chatApi = { chatFor, store, storeIncoming: store };

  // functions/findOrCreateLatestChat.ts
  __d('WAWebFindChatAction', [], (g, r, d, n, l, module, exports) => {
    exports.__esModule = true;
    exports.findOrCreateLatestChat = async (w, originType) => {
      calls('findOrCreateLatestChat', [String(w), originType]);
      let target = wid(w);
      if (target.server === 'c.us') {
        const lid = req('WAWebApiContact').lidPnCache.getCurrentLid(target);
        if (lid) target = lid;
      }
      if (target.isGroup() && !req('WAWebGroupMetadataCollection').default.get(target)) {
        throw new Error(`group ${target} not found`); // WhatsApp: not a participant
      }
      const existing = Chats().get(target);
      return { chat: existing || chatFor(target), created: !existing };
    };
  });

  // functions/addAndSendMsgToChat.ts: [message added, send result]; the server acks.
  __d('WAWebSendMsgChatAction', [], (g, r, d, n, l, module, exports) => {
    exports.__esModule = true;
    exports.addAndSendMsgToChat = (chat, raw) => {
      if (Msgs().get(raw.id)) throw new Error(`duplicate message id ${raw.id}`);
      if (S.control.failNextSend) {
        const message = S.control.failNextSend;
        S.control.failNextSend = null;
        throw new Error(message);
      }
      calls('addAndSendMsgToChat', [chat.id.toString(), raw.type, raw.id.toString()]);
      const msg = store({ ...raw, id: raw.id });
      const sent = new Promise((resolve) => setTimeout(() => {
        msg.set('ack', 1);
        resolve({ messageSendResult: 'OK' });
      }, 30));
      return [Promise.resolve(msg), sent];
    };
  });

  // functions/canEditMsg.ts (canEditText), canEditCaption.ts, canReplyMsg.ts,
  // getQuotedMsgObj.ts, addAndSendMessageEdit.ts
  __d('WAWebMsgActionCapability', [], (g, r, d, n, l, module, exports) => {
    exports.__esModule = true;
    const fresh = (msg) => Date.now() / 1000 - Number(msg.t) < EDIT_WINDOW_S;
    exports.canEditText = (msg) => Boolean(msg.id.fromMe) && msg.type === 'chat' && fresh(msg);
    exports.canEditCaption = (msg) => Boolean(msg.id.fromMe) && ['image', 'video', 'document'].includes(msg.type)
      && Boolean(msg.caption) && fresh(msg);
    exports.canReplyMsg = (msg) => msg.type !== 'revoked';
  });
  __d('WAWebQuotedMsgModelUtils', [], (g, r, d, n, l, module, exports) => {
    exports.__esModule = true;
    exports.getQuotedMsgObj = (msg) => {
      if (!msg.quotedStanzaID) return null;
      return Msgs().filter((m) => m.id.id === msg.quotedStanzaID)[0] || null;
    };
  });
  __d('WAWebSendMessageEditAction', [], (g, r, d, n, l, module, exports) => {
    exports.__esModule = true;
    exports.addAndSendMessageEdit = async (msg, edit) => {
      calls('addAndSendMessageEdit', [msg.id.toString(), edit.body]);
      const fields = msg.type === 'chat' ? { body: edit.body } : { caption: edit.caption };
      msg.set({ ...fields, latestEditSenderTimestampMs: edit.latestEditSenderTimestampMs * 1000 || Date.now() });
      msg.set('latestEditMsgKey', edit.latestEditMsgKey);
    };
  });

  // functions/getSearchContext.ts: WhatsApp loads messages around a key from its
  // database; the stand-in's "database" is the chat itself.
  __d('WAWebChatMessageSearch', [], (g, r, d, n, l, module, exports) => {
    exports.__esModule = true;
    // One argument {chat, msgKey} (src/whatsapp/functions/callGetSearchContext.ts).
    exports.getSearchContext = ({ chat }) => ({
      collection: { get: (key) => chat.msgs.get(key), loadAroundPromise: Promise.resolve() },
    });
  });

  // functions/msgFindByDirection.ts: WhatsApp reads a chat's messages from its
  // database, `count` of them before/after the anchor key (not including it).
  __d('WAWebDBMessageFindByDirection', [], (g, r, d, n, l, module, exports) => {
    exports.__esModule = true;
    const find = ({ anchor, count, direction }) => {
      const chat = Chats().get(anchor.remote);
      const list = chat ? chat.msgs.getModelsArray() : [];
      const at = list.findIndex((m) => m.id.toString() === anchor.toString());
      if (at < 0) return Promise.resolve([]);
      const slice = direction === 'after' ? list.slice(at + 1, at + 1 + count) : list.slice(Math.max(0, at - count), at);
      calls('msgFindByDirection', [anchor.toString(), count, direction]);
      return Promise.resolve(slice);
    };
    exports.msgFindByDirection = find;
    exports.msgFindBefore = (args) => find({ ...args, direction: 'before' });
    exports.msgFindAfter = (args) => find({ ...args, direction: 'after' });
  });

  // functions/markSeen.ts (sendSeen), misc/ChatPresence.ts (markComposing/markPaused)
  __d('WAWebUpdateUnreadChatAction', [], (g, r, d, n, l, module, exports) => {
    exports.__esModule = true;
    exports.sendSeen = async (args) => {
      const chat = args && args.chat ? args.chat : args;
      calls('sendSeen', [chat.id.toString()]);
      chat.set('unreadCount', 0);
    };
    exports.markUnread = async (chat) => { chat.set('unreadCount', -1); };
  });
  __d('WAWebChatStateBridge', [], (g, r, d, n, l, module, exports) => {
    exports.__esModule = true;
    exports.markComposing = async (chat) => calls('markComposing', [chat.id.toString()]);
    exports.markPaused = async (chat) => calls('markPaused', [chat.id.toString()]);
    exports.markRecording = async (chat) => calls('markRecording', [chat.id.toString()]);
  });

  // functions/sendReactionToMsg.ts
  __d('WAWebSendReactionMsgAction', [], (g, r, d, n, l, module, exports) => {
    exports.__esModule = true;
    exports.sendReactionToMsg = async (msg, reaction) => {
      if (msg.type === 'revoked') return 'ERROR_UNKNOWN';
      calls('sendReactionToMsg', [msg.id.toString(), reaction]);
      return 'OK';
    };
  });

  // functions/blockContact.ts; the blocklist store changes and is re-sorted.
  __d('WAWebBlockContactAction', [], (g, r, d, n, l, module, exports) => {
    exports.__esModule = true;
    const store = () => req('WAWebBlocklistCollection').BlocklistCollection;
    exports.blockContact = async ({ contact }) => {
      calls('blockContact', [contact.id.toString()]);
      store().add({ id: contact.id });
    };
    exports.unblockContact = async (contact) => {
      const c = contact.contact || contact;
      calls('unblockContact', [c.id.toString()]);
      store().remove(c.id);
    };
  });

  // functions/handleAck.ts: WhatsApp's receipt handlers (wa-js wraps them into
  // chat.msg_ack_change); they raise the ack of our messages in the store.
  __d('WAWebHandleMsgReceipts', [], (g, r, d, n, l, module, exports) => {
    exports.__esModule = true;
    function apply(data) {
      const MsgKey = req('WAWebMsgKey').default;
      for (const id of data.externalIds) {
        const found = Msgs().filter((m) => m.id.fromMe && m.id.id === id && m.id.remote.equals(data.from))[0];
        if (found && found.ack < data.ack) found.set('ack', data.ack);
        if (!found) calls('receiptForUnknownMsg', [new MsgKey({ fromMe: true, remote: data.from, id }).toString()]);
      }
    }
    exports.handleChatSimpleReceipt = (data) => apply(data);
    exports.handleGroupSimpleReceipt = (data) => apply(data);
    exports.handleStatusSimpleReceipt = (data) => apply(data);
  });

  // functions/createOrUpdateReactions.ts (`addOrUpdateReactionsModelCollection`)
  __d('WAWebAddonReactionTableMode', [], (g, r, d, n, l, module, exports) => {
    exports.__esModule = true;
    exports.addOrUpdateReactionsModelCollection = async (data) => {
      calls('addOrUpdateReactionsModelCollection', [Array.isArray(data) ? data.length : data.msgKey]);
    };
  });

  // misc/VCard.ts (vcardFromContactModel), used by sendVCardContactMessage.ts
  __d('WAWebVcardUtils', [], (g, r, d, n, l, module, exports) => {
    exports.__esModule = true;
    exports.vcardFromContactModel = (contact) => {
      const user = contact.id.user;
      const name = contact.name || contact.displayName || user;
      return {
        displayName: name,
        vcard: `BEGIN:VCARD\nVERSION:3.0\nN:;${name};;;\nFN:${name}\nTEL;type=CELL;type=VOICE;waid=${user}:+${user}\nEND:VCARD`,
        isMultiVcard: false,
      };
    };
  });

  // Media: misc/OpaqueData.ts, MediaPrep.ts (`uploadProductImage && MediaPrep`),
  // MediaGatingUtils.ts, MediaBlobCache.ts. prepRawMedia reads the file the way
  // WhatsApp does and sendToChat adds the message under the key wa-js prepared.
  __d('WAWebMediaOpaqueData', [], (g, r, d, n, l, module, exports) => {
    exports.__esModule = true;
    class OpaqueData {
      constructor(blob, type) { this.blob = blob; this.type = type; }
      static async createFromData(blob, type) { return new OpaqueData(blob, type); }
    }
    exports.default = OpaqueData;
  });
  __d('WAWebMediaGatingUtils', [], (g, r, d, n, l, module, exports) => {
    exports.__esModule = true;
    // WhatsApp's limits: 16 MB for photos/video/audio, 2 GB documents, 500 KB stickers.
    exports.getUploadLimit = (type) => ({ document: 2 * 2 ** 30, sticker: 500 * 2 ** 10 }[type] || 16 * 2 ** 20);
  });
  __d('WAWebMediaPrep', [], (g, r, d, n, l, module, exports) => {
    exports.__esModule = true;
    const TYPES = { 'image/webp': 'sticker' };
    async function sha256(blob) {
      const digest = await crypto.subtle.digest('SHA-256', await blob.arrayBuffer());
      return btoa(String.fromCharCode(...new Uint8Array(digest)));
    }
    class MediaPrep {
      constructor(opaque, options) {
        this.options = options || {};
        const mime = opaque.type || 'application/octet-stream';
        let type = 'document';
        if (this.options.asSticker) type = 'sticker';
        else if (this.options.asDocument) type = 'document';
        else if (mime.startsWith('image/')) type = TYPES[mime] || 'image';
        else if (mime.startsWith('video/')) type = 'video';
        else if (mime.startsWith('audio/')) type = this.options.isPtt ? 'ptt' : 'audio';
        this._prep = sha256(opaque.blob).then((filehash) => {
          this._mediaData = { type, mimetype: mime, size: opaque.blob.size, filehash, mediaStage: 'RESOLVED' };
          this.blob = opaque.blob;
        });
      }
      waitForPrep() { return this._prep; }
      // One argument ({chat, options}) as in WhatsApp >= 2.3000.
      sendToChat({ chat, options }) {
        const raw = options.productMsgOptions;
        const media = this._mediaData;
        calls('sendToChat', [chat.id.toString(), media.type, raw.id.toString()]);
        // WhatsApp adds the message once the upload has started, not synchronously
        // (wa-js waits for it with chat.msgs.on('add'), in sendFileMessage.ts).
        return new Promise((resolve) => setTimeout(() => {
          const msg = store({
            ...raw, type: media.type, mimetype: media.mimetype, size: media.size, filehash: media.filehash,
            caption: ['document', 'image', 'video'].includes(media.type) ? options.caption : undefined,
            mediaData: { ...media },
          });
          req('WAWebMediaBlobCache').InMemoryMediaBlobCache.put(media.filehash, this.blob);
          setTimeout(() => { msg.set('ack', 1); resolve({ messageSendResult: 'OK' }); }, 30);
        }, 10));
      }
    }
    // wa-js exports this whole module as MediaPrep and calls its prepRawMedia.
    exports.MediaPrep = MediaPrep;
    exports.prepRawMedia = (opaque, options) => new MediaPrep(opaque, options);
    exports.uploadProductImage = async () => { throw new Error('not in the stand-in'); };
  });
})();

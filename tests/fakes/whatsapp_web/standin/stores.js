/*
 * Stand-in for WhatsApp Web's models and stores that wa-js 4.6.0 reads and writes:
 * chats, messages, contacts, group metadata, the blocklist, profile pictures, the
 * Lid <-> phone-number cache. Each module cites the wa-js file whose exportModule
 * condition finds it (paths under wa-js src/whatsapp/).
 *
 * Keys as in today's WhatsApp: a 1:1 chat with a contact that has a hidden id is keyed
 * by "<lid>@lid", not by the phone number; lidPnCache maps one to the other.
 */
(() => {
  'use strict';
  const __d = window.__d;
  const S = window.__standin;

  // models/ChatModel.ts, MsgModel.ts, ContactModel.ts are found by prototype.proxyName
  // (exportProxyModel in src/whatsapp/exportModule.ts).
  __d('WAWebContactModel', ['WAWebBaseModel'], (g, require, d, n, l, module, exports) => {
    exports.__esModule = true;
    const { BaseModel } = require('WAWebBaseModel');
    class ContactModel extends BaseModel {
      get isMe() {
        return require('WAWebUserPrefsMeUser').isMeAccount(this.id);
      }
      get displayName() { return this.name || this.pushname || (this.id && this.id.user) || ''; }
      get formattedName() { return this.displayName; }
    }
    ContactModel.prototype.proxyName = 'contact';
    exports.ContactModel = ContactModel;
    exports.default = ContactModel;
  });

  __d('WAWebMsgModel', ['WAWebBaseModel'], (g, require, d, n, l, module, exports) => {
    exports.__esModule = true;
    const { BaseModel } = require('WAWebBaseModel');
    class MsgModel extends BaseModel {
      get senderObj() {
        const sender = this.id && this.id.fromMe
          ? require('WAWebUserPrefsMeUser').getMaybeMePnUser()
          : this.author || this.from;
        const store = require('WAWebContactCollection').ContactCollection;
        const { ContactModel } = require('WAWebContactModel');
        return store.get(sender) || new ContactModel({ id: sender });
      }
      // The fields a reply to this message carries (quotedMsg in prepareRawMessage.ts).
      msgContextInfo(chatId) {
        const info = { quotedMsg: this, quotedStanzaID: this.id.id, quotedRemoteJid: this.id.remote };
        if (this.id.remote.isGroup()) {
          info.quotedParticipant = this.id.fromMe
            ? require('WAWebUserPrefsMeUser').getMaybeMeLidUser() : this.author;
        } else {
          info.quotedParticipant = this.id.fromMe
            ? require('WAWebUserPrefsMeUser').getMaybeMePnUser() : this.from;
        }
        if (!chatId.equals(this.id.remote)) info.quotedRemoteJid = this.id.remote;
        return info;
      }
      updateAck(ack) { this.set('ack', ack); }
      // src/chat/functions/downloadMedia.ts: msg.downloadMedia() fills the media cache.
      async downloadMedia() {
        const data = S.server && S.server.media.get(this.id.toString());
        if (!data || !this.mediaData) throw new Error('media download failed: 404');
        const bytes = Uint8Array.from(atob(data.data), (c) => c.charCodeAt(0));
        require('WAWebMediaBlobCache').InMemoryMediaBlobCache.put(this.mediaData.filehash, new Blob([bytes], { type: data.mimetype }));
      }
    }
    MsgModel.prototype.proxyName = 'msg';
    exports.Msg = MsgModel;
    exports.default = MsgModel;
  });

  __d('WAWebChatModel', ['WAWebBaseModel', 'WAWebMsgCollection'], (g, require, d, n, l, module, exports) => {
    exports.__esModule = true;
    const { BaseModel, BaseCollection } = require('WAWebBaseModel');
    class ChatMsgs extends BaseCollection {}
    class ChatModel extends BaseModel {
      constructor(attrs) {
        super(attrs);
        ChatMsgs.model = require('WAWebMsgModel').default;
        this.msgs = new ChatMsgs();
        this.presence = { subscribe: () => Promise.resolve(), isSubscribed: true };
        if (this.unreadCount === undefined) this.unreadCount = 0;
        this.isParentGroup = false;
      }
      // wa-js's chat.list({onlyUsers}) keeps chats whose isUser is true (c.us and lid).
      // (Getters must bear being read on the prototype: wa-js probes
      // ChatModel.prototype[name] before adding its own, src/chat/patch.ts.)
      get isUser() { return Boolean(this.id && this.id.isUser()); }
      get groupMetadata() {
        return this.id && this.id.isGroup() ? require('WAWebGroupMetadataCollection').default.get(this.id) : undefined;
      }
    }
    ChatModel.prototype.proxyName = 'chat';
    exports.Chat = ChatModel;
    exports.default = ChatModel;
  });

  // collections/MsgCollection.ts (`MsgCollectionImpl`), stores.ts MsgStore (`default`
  // instanceof it); src/chat/events/registerRevokeMessageEvent.ts wraps
  // processMultipleMessages, registerNewMessageEvent.ts listens to 'add'.
  __d('WAWebMsgCollection', ['WAWebBaseModel'], (g, require, d, n, l, module, exports) => {
    exports.__esModule = true;
    const { BaseCollection } = require('WAWebBaseModel');
    class MsgCollectionImpl extends BaseCollection {
      // WhatsApp's entry for messages from the server: each goes to its chat and here.
      processMultipleMessages(chatId, msgs) {
        for (const raw of msgs) S.chatApi.storeIncoming(raw);
        return Promise.resolve();
      }
    }
    MsgCollectionImpl.model = null; // set below, the model module needs this one
    const store = new MsgCollectionImpl();
    exports.MsgCollectionImpl = MsgCollectionImpl;
    exports.MsgCollection = store;
    exports.default = store;
    setTimeout(() => { MsgCollectionImpl.model = require('WAWebMsgModel').default; }, 0);
  });

  // collections/ChatCollection.ts (`ChatCollectionImpl`), stores.ts ChatStore (`ChatCollection`).
  __d('WAWebChatCollection', ['WAWebBaseModel', 'WAWebChatModel'], (g, require, d, n, l, module, exports) => {
    exports.__esModule = true;
    const { BaseCollection } = require('WAWebBaseModel');
    class ChatCollectionImpl extends BaseCollection {}
    ChatCollectionImpl.model = require('WAWebChatModel').default;
    const store = new ChatCollectionImpl();
    exports.ChatCollectionImpl = ChatCollectionImpl;
    exports.ChatCollection = store;
    exports.default = store;
  });

  // collections/ContactCollection.ts (`ContactCollectionImpl`), stores.ts ContactStore.
  __d('WAWebContactCollection', ['WAWebBaseModel', 'WAWebContactModel'], (g, require, d, n, l, module, exports) => {
    exports.__esModule = true;
    const { BaseCollection } = require('WAWebBaseModel');
    class ContactCollectionImpl extends BaseCollection {}
    ContactCollectionImpl.model = require('WAWebContactModel').default;
    const store = new ContactCollectionImpl();
    exports.ContactCollectionImpl = ContactCollectionImpl;
    exports.ContactCollection = store;
    exports.default = store;
  });

  // collections/GroupMetadataCollection.ts (`default._handleParentGroupChange`); wa-js's
  // chat.find() awaits GroupMetadataStore.find(group) and group functions read
  // participants.iAmAdmin() (src/group/functions/iAmAdmin.ts).
  __d('WAWebGroupMetadataCollection', ['WAWebBaseModel'], (g, require, d, n, l, module, exports) => {
    exports.__esModule = true;
    const { BaseCollection, BaseModel } = require('WAWebBaseModel');
    class Participants extends BaseCollection {
      iAmAdmin() {
        const me = require('WAWebUserPrefsMeUser');
        return this.filter((p) => p.isAdmin && me.isMeAccount(p.id)).length > 0;
      }
    }
    class GroupMetadataModel extends BaseModel {}
    GroupMetadataModel.prototype.proxyName = 'groupMetadata';
    class GroupMetadataCollection extends BaseCollection {
      _handleParentGroupChange() {}
      async find(id) {
        const found = this.get(id);
        if (!found) throw new Error(`group metadata not found for ${id}`);
        return found;
      }
      addGroup(id, subject, participants) {
        const parts = new Participants();
        parts.add(participants.map((p) => new BaseModel(p)));
        return this.add(new GroupMetadataModel({ id, subject, participants: parts, groupType: 'DEFAULT' }))[0];
      }
    }
    GroupMetadataCollection.model = GroupMetadataModel;
    exports.default = new GroupMetadataCollection();
  });

  // collections/BlocklistCollection.ts; src/blocklist/events/registerSyncedEvent.ts
  // turns the store's 'sort' (WhatsApp re-sorts after syncing the list) into blocklist.sync.
  __d('WAWebBlocklistCollection', ['WAWebBaseModel'], (g, require, d, n, l, module, exports) => {
    exports.__esModule = true;
    const { BaseCollection, BaseModel } = require('WAWebBaseModel');
    class BlocklistCollectionImpl extends BaseCollection {}
    BlocklistCollectionImpl.model = BaseModel;
    const store = new BlocklistCollectionImpl();
    exports.BlocklistCollectionImpl = BlocklistCollectionImpl;
    exports.BlocklistCollection = store;
    exports.default = store;
  });

  // collections/ProfilePicThumbCollection.ts; src/contact/functions/getProfilePictureUrl.ts
  __d('WAWebProfilePicThumbCollection', ['WAWebBaseModel'], (g, require, d, n, l, module, exports) => {
    exports.__esModule = true;
    const { BaseCollection, BaseModel } = require('WAWebBaseModel');
    class ProfilePicThumbCollectionImpl extends BaseCollection {
      // Asks the server; a contact who hides the picture has none.
      async find(wid) {
        const url = S.server && S.server.profilePicture(String(wid));
        const model = new BaseModel({ id: wid, img: url || undefined, imgFull: url || undefined });
        return model;
      }
    }
    ProfilePicThumbCollectionImpl.model = BaseModel;
    exports.ProfilePicThumbCollectionImpl = ProfilePicThumbCollectionImpl;
    exports.ProfilePicThumbCollection = new ProfilePicThumbCollectionImpl();
  });

  // collections/StatusV3Collection.ts, stores.ts StatusV3Store (getMessageById of a status).
  __d('WAWebStatusCollection', ['WAWebBaseModel'], (g, require, d, n, l, module, exports) => {
    exports.__esModule = true;
    const { BaseCollection } = require('WAWebBaseModel');
    class StatusCollectionImpl extends BaseCollection {
      getMyStatus() { return { msgs: new BaseCollection() }; }
    }
    exports.StatusV3CollectionImpl = StatusCollectionImpl;
    exports.StatusCollection = new StatusCollectionImpl();
  });

  // stores.ts PresenceStore (`PresenceCollection`): wa-js's chat.presence_change
  // listens to it on conn.main_ready (src/chat/events/registerPresenceChange.ts).
  __d('WAWebPresenceCollection', ['WAWebBaseModel'], (g, require, d, n, l, module, exports) => {
    exports.__esModule = true;
    const { BaseCollection } = require('WAWebBaseModel');
    exports.PresenceCollection = new BaseCollection();
  });

  // misc/LidPnCache.ts (`lidPnCache`), used by src/contact/functions/getPnLidEntry.ts.
  __d('WAWebApiContact', ['WAWebWidFactory'], (g, require, d, n, l, module, exports) => {
    exports.__esModule = true;
    const WidFactory = require('WAWebWidFactory');
    const byLid = new Map(); // "<lid>@lid" -> {lid, phoneNumber, phoneNumberCreatedAt}
    exports.lidPnCache = {
      getPhoneNumber: (lid) => (byLid.get(String(lid)) || {}).phoneNumber,
      getCurrentLid: (pn) => {
        for (const entry of byLid.values()) if (String(entry.phoneNumber) === String(pn)) return entry.lid;
        return undefined;
      },
      getLidEntry: (lid) => byLid.get(String(lid)),
      add: (lid, entry) => { byLid.set(String(lid), entry); },
      getAllLids: () => [...byLid.values()].map((e) => e.lid),
      clear: () => byLid.clear(),
      remove: (lid) => byLid.delete(String(lid)),
    };
    exports.addLidMapping = (lid, pn) => {
      const entry = {
        lid: WidFactory.createWid(lid), phoneNumber: WidFactory.createWid(pn), phoneNumberCreatedAt: Date.now(),
      };
      byLid.set(entry.lid.toString(), entry);
    };
  });

  // misc/MediaBlobCache.ts: where downloaded media lands (src/chat/functions/downloadMedia.ts).
  __d('WAWebMediaBlobCache', [], (g, r, d, n, l, module, exports) => {
    exports.__esModule = true;
    class InMemoryMediaBlobCacheImpl {
      constructor() { this.cache = new Map(); }
      has(hash) { return this.cache.has(hash); }
      get(hash) { return this.cache.get(hash); }
      put(hash, blob) { this.cache.set(hash, blob); }
    }
    exports.InMemoryMediaBlobCacheImpl = InMemoryMediaBlobCacheImpl;
    exports.InMemoryMediaBlobCache = new InMemoryMediaBlobCacheImpl();
  });
})();

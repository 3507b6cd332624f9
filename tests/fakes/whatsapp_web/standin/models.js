/*
 * Stand-in for WhatsApp Web's data layer as wa-js 4.6.0 finds it: the Backbone-like
 * model/collection base, Wid + WidFactory, MsgKey, and the Chat/Msg/Contact models and
 * their collections (stores). Each __d module states which wa-js file (under
 * src/whatsapp/) finds it, and its exports have exactly the shape that file's
 * exportModule condition looks for.
 */
(() => {
  'use strict';
  const __d = window.__d;

  // -- Backbone-like events, models and collections (WAWebBaseModel / WAWebBaseCollection)
  __d('WAWebBaseModel', [], (g, require, d, n, l, module, exports) => {
    exports.__esModule = true;
    class Events {
      on(name, fn, ctx) {
        for (const one of String(name).split(/\s+/)) {
          (this._events || (this._events = {}))[one] = (this._events[one] || []).concat([{ fn, ctx }]);
        }
        return this;
      }
      once(name, fn, ctx) {
        const wrapper = (...args) => { this.off(name, wrapper); fn.apply(ctx || this, args); };
        return this.on(name, wrapper, ctx);
      }
      off(name, fn) {
        if (!this._events) return this;
        if (!name) { this._events = {}; return this; }
        if (!fn) delete this._events[name];
        else this._events[name] = (this._events[name] || []).filter((l) => l.fn !== fn);
        return this;
      }
      trigger(name, ...args) {
        for (const l of (this._events && this._events[name]) || []) l.fn.apply(l.ctx || this, args);
        for (const l of (this._events && this._events.all) || []) l.fn.apply(l.ctx || this, [name, ...args]);
        return this;
      }
      emit(name, ...args) { return this.trigger(name, ...args); }
      listenTo(other, name, fn) { other.on(name, fn, this); return this; }
      stopListening() { return this; }
    }

    // Attributes are plain own properties, as on WhatsApp's models (msg.body, chat.id);
    // set() fires change:<attr> (model, value) and lets collections re-emit it.
    class Model extends Events {
      constructor(attrs) {
        super();
        this.attributes = this;
        if (attrs) for (const k of Object.keys(attrs)) this[k] = attrs[k];
      }
      get(key) { return this[key]; }
      set(key, value) {
        const attrs = typeof key === 'object' ? key : { [key]: value };
        const changed = [];
        for (const k of Object.keys(attrs)) {
          if (this[k] !== attrs[k]) { this[k] = attrs[k]; changed.push(k); }
        }
        for (const k of changed) {
          this.trigger(`change:${k}`, this, this[k]);
          if (this.collection) this.collection.trigger(`change:${k}`, this, this[k]);
        }
        if (changed.length) this.trigger('change', this);
        return this;
      }
      unset(key) { delete this[key]; return this; }
      serialize() { return { ...this }; }
      toJSON() {
        const out = {};
        for (const k of Object.keys(this)) if (!k.startsWith('_') && k !== 'attributes' && k !== 'collection') out[k] = this[k];
        return out;
      }
    }

    class Collection extends Events {
      constructor() {
        super();
        this._models = [];
        this._index = new Map();
      }
      static key(id) {
        if (id == null) return '';
        if (typeof id === 'string') return id;
        if (id.id && typeof id.id === 'object' && id.id._serialized) return id.id._serialized;
        if (id._serialized) return id._serialized;
        return String(id);
      }
      get models() { return this._models.slice(); }
      get length() { return this._models.length; }
      getModelsArray() { return this._models.slice(); }
      toArray() { return this._models.slice(); }
      get(id) { return this._index.get(Collection.key(id)); }
      has(id) { return this._index.has(Collection.key(id)); }
      add(items, options) {
        const list = Array.isArray(items) ? items : [items];
        const added = [];
        for (const item of list) {
          const existing = this.get(item.id);
          if (existing) {
            if (options && options.merge) existing.set(item instanceof Model ? { ...item } : item);
            added.push(existing);
            continue;
          }
          const model = item instanceof Model ? item : new this.constructor.model(item);
          model.collection = this;
          this._models.push(model);
          this._index.set(Collection.key(model.id), model);
          added.push(model);
          this.trigger('add', model, this, options || {});
        }
        return added;
      }
      remove(items) {
        for (const item of Array.isArray(items) ? items : [items]) {
          const model = this.get(item && item.id ? item.id : item);
          if (!model) continue;
          this._models = this._models.filter((m) => m !== model);
          this._index.delete(Collection.key(model.id));
          this.trigger('remove', model, this);
        }
      }
      reset() { this._models = []; this._index.clear(); this.trigger('reset', this); }
      forEach(fn) { this._models.forEach(fn); }
      map(fn) { return this._models.map(fn); }
      filter(fn) { return this._models.filter(fn); }
      find(id) { return Promise.resolve(this.get(id)); }
      findFirst(fn) { return this._models.find(fn); }
      last() { return this._models[this._models.length - 1]; }
    }
    Collection.model = Model;
    exports.BaseModel = Model;
    exports.BaseCollection = Collection;
    exports.Events = Events;
  });

  // -- Wid: src/whatsapp/misc/Wid.ts finds it by `m.default.isXWid` ------------------
  __d('WAWebWid', [], (g, require, d, n, l, module, exports) => {
    exports.__esModule = true;
    const SERVERS = new Set(['c.us', 'g.us', 'lid', 'broadcast', 'newsletter', 's.whatsapp.net', 'call', 'bot']);
    class Wid {
      constructor(id, options) {
        if (!options || !options.intentionallyUsePrivateConstructor) {
          throw new Error('use WidFactory to create a Wid');
        }
        const text = String(id);
        const at = text.indexOf('@');
        if (at < 1 || !SERVERS.has(text.slice(at + 1))) throw new Error(`invalid wid: ${text}`);
        let user = text.slice(0, at);
        const colon = user.indexOf(':');
        if (colon >= 0) { this.device = Number(user.slice(colon + 1)); user = user.slice(0, colon); }
        this.server = text.slice(at + 1);
        this.user = user;
        this._serialized = `${this.user}@${this.server}`;
      }
      toString() { return this._serialized; }
      toJid() { return this._serialized.replace('@c.us', '@s.whatsapp.net'); }
      equals(other) {
        if (!other) return false;
        const text = typeof other === 'string' ? other : other._serialized;
        return text === this._serialized;
      }
      isUser() { return this.server === 'c.us' || this.server === 'lid'; }
      isLid() { return this.server === 'lid'; }
      isGroup() { return this.server === 'g.us'; }
      isBroadcast() { return this.server === 'broadcast'; }
      isStatusV3() { return this._serialized === 'status@broadcast'; }
      isStatus() { return this.isStatusV3(); }
      isNewsletter() { return this.server === 'newsletter'; }
      isBot() { return this.server === 'bot'; }
      isPSA() { return this._serialized === '0@c.us'; }
      isServer() { return this.user === 'server'; }
      isCompanion() { return this.device != null && this.device !== 0; }
      isGroupCall() { return this.server === 'call'; }
      isUserNotPSA() { return this.isUser() && !this.isPSA(); }
      isOfficialBizAccount() { return false; }
      getDeviceId() { return this.device || 0; }
      static isXWid(server, wid) { return Boolean(wid) && String(wid).endsWith(`@${server}`); }
      static isUser(w) { return /@(c\.us|lid)$/.test(String(w)); }
      static isGroup(w) { return /@g\.us$/.test(String(w)); }
      static isLid(w) { return /@lid$/.test(String(w)); }
      static isStatusV3(w) { return String(w) === 'status@broadcast'; }
      static isStatus(w) { return String(w) === 'status@broadcast'; }
      static isNewsletter(w) { return /@newsletter$/.test(String(w)); }
      static isBroadcast(w) { return /@broadcast$/.test(String(w)); }
      static isWid(w) { return w instanceof Wid; }
      static equals(a, b) { return String(a) === String(b); }
    }
    exports.default = Wid;
  });

  // -- WidFactory: src/whatsapp/misc/WidFactory.ts (`m.createWid`/`createUserWid`) ----
  __d('WAWebWidFactory', ['WAWebWid'], (g, require, d, n, l, module, exports) => {
    exports.__esModule = true;
    const Wid = require('WAWebWid').default;
    const make = (text) => new Wid(text, { intentionallyUsePrivateConstructor: true });
    exports.createWid = (id) => {
      if (id instanceof Wid) return id;
      const text = typeof id === 'string' ? id : id && id._serialized;
      if (!text) throw new Error('createWid: invalid id');
      return make(text.replace('@s.whatsapp.net', '@c.us'));
    };
    exports.createUserWid = (user, server = 'c.us') => make(String(user).includes('@') ? String(user) : `${user}@${server}`);
    exports.createUserWidOrThrow = exports.createUserWid;
    exports.createWidFromWidLike = (w) => make(typeof w === 'string' ? w : w._serialized);
    exports.isWidlike = (w) => Boolean(w) && typeof w === 'object' && typeof w._serialized === 'string'
      && typeof w.server === 'string' && typeof w.user === 'string';
    exports.toUserWid = (w) => make(`${w.user}@${w.server}`);
    exports.asUserWidOrThrow = exports.toUserWid;
  });

  // -- MsgKey: src/whatsapp/misc/MsgKey.ts (`default.toString()` contains WhatsApp's
  //    constructor error text); also src/whatsapp/functions/randomId.ts (`default.newId`).
  __d('WAWebMsgKey', ['WAWebWid', 'WAWebWidFactory'], (g, require, d, n, l, module, exports) => {
    exports.__esModule = true;
    const Wid = require('WAWebWid').default;
    const WidFactory = require('WAWebWidFactory');
    const wid = (w) => (w == null ? undefined : w instanceof Wid ? w : WidFactory.createWid(w));
    class MsgKey {
      constructor(obj) {
        if (obj == null) throw new Error('MsgKey error: obj is null/undefined');
        // WhatsApp accepts {from, to, id, participant, selfDir} or {fromMe, remote, id, participant}.
        if (obj.selfDir !== undefined) {
          this.fromMe = obj.selfDir === 'out';
          this.remote = wid(this.fromMe ? obj.to : obj.from);
        } else {
          if (obj.fromMe == null) throw new Error('MsgKey error: fromMe is null/undefined');
          this.fromMe = Boolean(obj.fromMe);
          this.remote = wid(obj.remote);
        }
        if (!this.remote) throw new Error('MsgKey error: remote is null/undefined');
        if (!obj.id) throw new Error('MsgKey error: id is null/undefined');
        this.id = String(obj.id);
        if (obj.participant) this.participant = wid(obj.participant);
        this._serialized = [String(this.fromMe), this.remote.toString(), this.id]
          .concat(this.participant ? [this.participant.toString()] : []).join('_');
      }
      toString() { return this._serialized; }
      equals(other) { return Boolean(other) && String(other) === this._serialized; }
      clone() { return new MsgKey(this); }
      // "true_<chat>_<id>[_<participant>]"; the chat and participant may contain "_"
      // only in broadcast ids, which WhatsApp never uses here.
      static fromString(text) {
        const parts = String(text).split('_');
        if (parts.length < 3 || (parts[0] !== 'true' && parts[0] !== 'false')) {
          throw new Error(`MsgKey error: invalid string ${text}`);
        }
        return new MsgKey({
          fromMe: parts[0] === 'true', remote: parts[1], id: parts[2], participant: parts[3] || undefined,
        });
      }
      // 4 + 18 hex digits, like WhatsApp Web's own message ids ("3EB0...").
      static newId() {
        const bytes = crypto.getRandomValues(new Uint8Array(9));
        return Promise.resolve('3EB0' + Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('').toUpperCase());
      }
      static newId_DEPRECATED() { return MsgKey.newId(); }
    }
    exports.default = MsgKey;
  });
})();

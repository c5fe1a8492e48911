// hearth's JS hooks runtime, second part (after prelude.js): the request and record events,
// the hooks that run them (routes, record, enrich, list, auth, lifecycle) and the
// registration functions a hooks file calls while it loads.
"use strict";

(function (global) {
  const native = global.__native;
  const call = global.__call;
  const callRaw = global.__callRaw;
  const callRawText = global.__callRawText;
  const ApiError = global.ApiError;
  const Record = global.Record;

  // ---- requests ---------------------------------------------------------------------------
  function snake(name) {
    return String(name).toLowerCase().replace(/-/g, "_");
  }
  function valuesOf(pairs) {
    const first = {};
    for (const [k, v] of pairs) if (!(k in first)) first[k] = v;
    return first;
  }

  // The error binding the body gave: "api:..." an ApiError (400), else a plain error.
  function bodyError(text) {
    return text.startsWith("api:") ? new BadRequestError(text.slice(4)) : new Error(text);
  }

  // `e.request`: its parts read the request's JSON only when asked for.
  class RequestView {
    constructor(event) { this.__event = event; }
    get method() { return this.__event.__req.method; }
    get host() { return this.__event.__req.host; }
    get remoteAddr() { return this.__event.__req.remoteAddr; }
    get url() {
      const req = this.__event.__req;
      return {
        path: req.path,
        rawQuery: req.rawQuery,
        query: () => ({
          get: (k) => { const p = req.query.find((q) => q[0] === k); return p ? p[1] : ""; },
          has: (k) => req.query.some((q) => q[0] === k),
          all: () => valuesOf(req.query),
        }),
        string: () => req.path + (req.rawQuery ? "?" + req.rawQuery : ""),
      };
    }
    get header() {
      const req = this.__event.__req;
      return {
        get: (k) => { const p = req.headers.find((h) => h[0] === String(k).toLowerCase()); return p ? p[1] : ""; },
        values: (k) => req.headers.filter((h) => h[0] === String(k).toLowerCase()).map((h) => h[1]),
      };
    }
    pathValue(name) {
      const params = this.__event.__params || this.__event.__req.params;
      return name in params ? params[name] : "";
    }
  }

  class RequestEvent {
    constructor(req) {
      const self = this;
      // The request's JSON, parsed on first use: a hook that only goes on never reads it.
      this.__reqSource = req;
      this.__reqParsed = null;
      this.__answer = null;
      this.__headers = [];
      this.__chain = [];
      this.__next = 0;
      this.__auth = undefined;
      this.__request = null;
      this.__params = null;
      this.app = global.$app;
    }
    get __req() {
      if (this.__reqParsed === null) {
        const source = this.__reqSource;
        this.__reqParsed = typeof source === "string" ? JSON.parse(source) : source;
      }
      return this.__reqParsed;
    }
    // Built on first use: most handlers read little of the request.
    get auth() {
      if (this.__auth === undefined) {
        const a = this.__req.auth;
        this.__auth = a ? new Record(a.collection, a.record) : null;
        if (this.__auth) this.__auth.__new = false;
      }
      return this.__auth;
    }
    set auth(value) { this.__auth = value; }
    get request() {
      if (!this.__request) this.__request = new RequestView(this);
      return this.__request;
    }
    get response() {
      const self = this;
      return {
        header: () => ({
          set: (k, v) => { self.__headers = self.__headers.filter((h) => h[0].toLowerCase() !== String(k).toLowerCase()); self.__headers.push([String(k), String(v)]); },
          add: (k, v) => { self.__headers.push([String(k), String(v)]); },
          get: (k) => { const h = self.__headers.find((h) => h[0].toLowerCase() === String(k).toLowerCase()); return h ? h[1] : ""; },
          del: (k) => { self.__headers = self.__headers.filter((h) => h[0].toLowerCase() !== String(k).toLowerCase()); },
        }),
      };
    }
    next() {
      const step = this.__chain[this.__next++];
      if (step) return step(this);
    }
    requestInfo() {
      if (this.__req.bodyError) throw bodyError(this.__req.bodyError);
      const headers = {};
      for (const [k, v] of this.__req.headers) if (!(snake(k) in headers)) headers[snake(k)] = v;
      return {
        query: valuesOf(this.__req.query),
        headers,
        body: this.__req.body,
        auth: this.auth,
        method: this.__req.method,
        context: "default",
        hasSuperuserAuth: () => !!this.auth && this.auth.isSuperuser(),
      };
    }
    hasSuperuserAuth() { return !!this.auth && this.auth.isSuperuser(); }
    isTLS() { return !!this.__req.tls; }
    realIP() { return this.__req.realIP; }
    remoteIP() { return this.__req.remoteIP; }
    written() { return this.__answer !== null; }
    status() { return this.__answer ? this.__answer.status : 0; }
    bindBody(target) {
      if (this.__req.bodyError) throw bodyError(this.__req.bodyError);
      Object.assign(target, this.__req.body);
    }
    __write(status, type, body) {
      this.__answer = { status: Number(status) || 200, type, body: body === undefined ? null : body };
    }
    json(status, data) {
      let body = JSON.stringify(data === undefined ? null : data);
      this.__write(status, "application/json", body === undefined ? "null" : body);
    }
    string(status, text) { this.__write(status, "text/plain; charset=utf-8", String(text)); }
    html(status, text) { this.__write(status, "text/html; charset=utf-8", String(text)); }
    xml(status, text) { this.__write(status, "application/xml; charset=utf-8", String(text)); }
    blob(status, type, bytes) { this.__write(status, String(type), { bytes: Array.from(bytes || []) }); }
    noContent(status) { this.__write(status, "", null); }
    redirect(status, url) {
      this.response.header().set("Location", String(url));
      this.__write(status, "", null);
    }
    error(status, message, data) { return new ApiError(status, message, data); }
    badRequestError(message, data) { return new BadRequestError(message, data); }
    notFoundError(message, data) { return new NotFoundError(message, data); }
    forbiddenError(message, data) { return new ForbiddenError(message, data); }
    unauthorizedError(message, data) { return new UnauthorizedError(message, data); }
    tooManyRequestsError(message, data) { return new TooManyRequestsError(message, data); }
    internalServerError(message, data) { return new InternalServerError(message, data); }
  }

  // $apis' built-in middlewares, run here by name.
  const BUILTIN = {
    requireAuth(e, collections) {
      if (!e.auth) throw new UnauthorizedError("The request requires valid record authorization token.");
      if (collections.length && !collections.includes(e.auth.collection().name)) {
        throw new ForbiddenError("The authorized record is not allowed to perform this action.");
      }
      return e.next();
    },
    requireSuperuserAuth(e) {
      return BUILTIN.requireAuth(e, ["_superusers"]);
    },
    requireGuestOnly(e) {
      if (e.auth) throw new BadRequestError("The request can be accessed only by guests.");
      return e.next();
    },
    requireSuperuserOrOwnerAuth(e, param) {
      if (!e.auth) throw new UnauthorizedError("The request requires superuser or record authorization token.");
      if (e.auth.isSuperuser()) return e.next();
      const owner = e.request.pathValue(param || "id");
      if (!owner || e.auth.id !== owner) throw new ForbiddenError("You are not allowed to perform this request.");
      return e.next();
    },
    bodyLimit(e) {
      return e.next();
    },
  };

  // Runs a route: `steps` are [kind, handler id or builtin name, args]; the answer is
  // {status, type, body, headers} or the thrown value.
  // A route's steps by their JSON text, parsed once.
  const routeSteps = new Map();
  function stepsOf(text) {
    let steps = routeSteps.get(text);
    if (steps === undefined) {
      if (routeSteps.size > 1000) routeSteps.clear();
      steps = JSON.parse(text).map(([kind, what, args]) =>
        kind === "js" ? (ev) => global.__fns[what](ev) : (ev) => BUILTIN[what](ev, args || [])
      );
      routeSteps.set(text, steps);
    }
    return steps;
  }

  global.__route = function (req, steps, params) {
    const e = new RequestEvent(req);
    e.__params = params;
    global.__event = e;
    e.__chain = stepsOf(steps);
    e.next();
    global.__event = null;
    const answer = e.__answer || { status: 200, type: "", body: null };
    answer.headers = e.__headers;
    return JSON.stringify(answer);
  };
  global.__fns = {};

  // `routerUse` middlewares around a built-in route: the innermost `e.next()` runs the
  // route (in Rust, while this waits); the headers set before it go on its answer (after
  // it, the answer is written already, as on PocketBase).
  global.__use = function (req, steps, depth) {
    const e = new RequestEvent(req);
    global.__event = e;
    let sent = null;
    e.__chain = steps.map(([kind, what, args]) =>
      kind === "js" ? global.__fns[what] : (ev) => BUILTIN[what](ev, args || [])
    ).concat([(ev) => {
      sent = ev.__headers.slice();
      call("use.next", { depth });
    }]);
    e.next();
    global.__event = null;
    return JSON.stringify({ answer: e.__answer, headers: sent || e.__headers, nextRan: sent !== null });
  };

  // A hook handler by id, compiled from its source the first time it runs.
  function handler(id) {
    if (!global.__fns[id]) {
      const h = call("handler", id);
      global.__fns[id] = global.__compile("\n".repeat(Math.max(0, h.line - 1)) + "(" + h.source + ")", h.file);
    }
    return global.__fns[id];
  }

  // ---- record hooks -------------------------------------------------------------------------
  class RecordEvent {
    constructor(record) {
      this.record = record;
      this.app = global.$app;
      this.__chain = [];
      this.__next = 0;
    }
    next() {
      const step = this.__chain[this.__next++];
      if (step) return step(this);
    }
  }
  global.RecordEvent = RecordEvent;

  // A record's values for its write, with the password `setPassword` gave it (hashed by
  // the write).
  function withPassword(record) {
    if (record.__password === undefined) return record.__data;
    return Object.assign({}, record.__data, { password: record.__password });
  }
  // A model hook: the handlers bound to the event, then the write itself, which answers
  // the record as written.
  global.__modelHook = function (input) {
    const record = new Record(input.collection, input.record);
    record.__new = input.isNew;
    record.__original = input.original || null;
    const e = new RecordEvent(record);
    e.__chain = input.ids.map(handler).concat([(ev) => {
      ev.record.__raw = callRaw("raw:record.next", { depth: input.depth, record: withPassword(ev.record) });
      ev.record.__password = undefined;
      ev.record.__new = false;
    }]);
    e.next();
    return "";
  };

  // A request hook (`onRecordCreateRequest`, ...): the request event with `e.record` and
  // `e.collection`; the innermost `e.next()` runs the request's own handling, whose answer
  // is sent unless a hook wrote its own.
  // A collection's `{id, name, type}` by its JSON text, parsed once and shared (frozen)
  // by every event of it.
  const collections = new Map();
  function collectionOf(text) {
    let c = collections.get(text);
    if (c === undefined) {
      if (collections.size > 1000) collections.clear();
      c = Object.freeze(JSON.parse(text));
      collections.set(text, c);
    }
    return c;
  }

  global.__requestHook = function (req, record, collectionText, ids, depth, isNew, original) {
    const e = new RequestEvent(req);
    global.__event = e;
    const collection = collectionOf(collectionText);
    e.collection = collection;
    e.record = new Record(collection, null);
    e.record.__raw = record;
    e.record.__new = isNew;
    e.record.__original = original || null;
    let nextRan = false;
    e.__chain = ids.map(handler);
    e.__chain.push((ev) => {
      const r = ev.record;
      // A record no hook read goes back as the text it came as.
      const out = r && r.__raw !== null && r.__password === undefined
        ? callRawText("raw:record.next", '{"depth":' + depth + ',"record":' + r.__raw + "}")
        : callRaw("raw:record.next", { depth, record: r ? withPassword(r) : {} });
      if (r) r.__password = undefined;
      nextRan = true;
      if (ev.record && out !== "{}") {
        ev.record.__raw = out;
        ev.record.__new = false;
      }
    });
    e.next();
    global.__event = null;
    if (e.__answer === null && e.__headers.length === 0) return nextRan ? "n" : "";
    return JSON.stringify({ answer: e.__answer, headers: e.__headers, nextRan });
  };

  // `onRecordsListRequest`: a list's records (`e.records`) and result (`e.result`);
  // `e.next()` sends the result with the records as the hooks left them.
  global.__listHook = function (req, input) {
    const e = new RequestEvent(req);
    global.__event = e;
    e.collection = input.collection;
    // As on PocketBase, the result's items are the records themselves: a record changed in
    // place shows, while `e.records = [...]` leaves the result as it was.
    e.records = (input.result.items || []).map((item) => {
      const r = new Record(input.collection, item);
      r.__new = false;
      return r;
    });
    e.result = Object.assign({}, input.result, { items: e.records });
    let sent = null;
    e.__chain = input.ids.map(handler).concat([(ev) => {
      const items = (ev.result && ev.result.items) || [];
      sent = Object.assign({}, ev.result, { items: items.map((r) => (r instanceof Record ? r.publicExport() : r)) });
    }]);
    e.next();
    global.__event = null;
    return JSON.stringify({ answer: e.__answer, headers: e.__headers, sent });
  };

  // A sign-in's own hooks (`onRecordAuthWithPasswordRequest`, `onRecordAuthRefreshRequest`)
  // and the account flows' (`onRecordRequestVerificationRequest`, ...):
  // `e.record` (null when none was found) and the event's values (`e.identity`,
  // `e.password`, ...); `e.next()` signs `e.record` in with them, through
  // `onRecordAuthRequest`.
  function otpRecord(data) {
    const otp = new Record({ id: "pbc_otps", name: "_otps", type: "base" }, data);
    otp.__new = false;
    otp.recordRef = () => data.recordRef;
    otp.collectionRef = () => data.collectionRef;
    otp.sentTo = () => data.sentTo;
    return otp;
  }
  global.__signInHook = function (req, input) {
    const e = new RequestEvent(req);
    global.__event = e;
    e.collection = input.collection;
    e.record = input.record ? new Record(input.collection, input.record) : null;
    if (e.record) e.record.__new = false;
    const names = Object.keys(input.extra);
    for (const k of names) e[k] = input.extra[k];
    // `e.otp`: the code's row, a record with PocketBase's getters.
    if (input.extra.otp) e.otp = otpRecord(input.extra.otp);
    let signed = null;
    e.__chain = input.ids.map(handler).concat([(ev) => {
      const extra = {};
      for (const k of names) extra[k] = ev[k];
      const record = ev.record ? ev.record.__data : null;
      signed = call("record.next", { depth: input.depth, record: { record, extra } });
      // As PocketBase's: past `e.next()`, `e.record` is the record signed in.
      if (signed && signed.record) {
        ev.record = new Record(input.collection, signed.record);
        ev.record.__new = false;
      }
    }]);
    e.next();
    global.__event = null;
    return JSON.stringify({ answer: e.__answer, headers: e.__headers, signed });
  };

  // `onRecordAuthRequest`: a sign-in's answer; `e.next()` sends `{token, record, meta}` as
  // the hooks left them.
  global.__authHook = function (req, input) {
    const e = new RequestEvent(req);
    global.__event = e;
    e.collection = input.collection;
    e.record = new Record(input.collection, input.record);
    e.record.__new = false;
    e.token = input.token;
    e.meta = input.meta === undefined ? null : input.meta;
    e.authMethod = input.authMethod;
    let sent = null;
    e.__chain = input.ids.map(handler).concat([(ev) => {
      sent = { token: ev.token, record: ev.record ? ev.record.publicExport() : null, meta: ev.meta === undefined ? null : ev.meta };
    }]);
    e.next();
    global.__event = null;
    return JSON.stringify({ answer: e.__answer, headers: e.__headers, sent });
  };

  // The app's lifecycle hooks (`onBootstrap`, `onTerminate`; PocketBase's JS has no
  // `onServe`): each handler gets
  // the event with `e.app` and goes on with `e.next()`.
  global.__lifecycle = function (input) {
    const e = new RecordEvent(null);
    if (input.name === "onTerminate") e.isRestart = false;
    e.__chain = input.ids.map(handler);
    e.next();
    return "";
  };

  // `onRecordEnrich`: each record of an answer (and what it expands) through the hooks
  // bound to its collection; what a record shows afterwards is PocketBase's export of it
  // (hidden keys left out, values of its own only with `withCustomData(true)`).
  global.__enrich = function (req, input) {
    // PocketBase's enrich event holds the request info as a value, not a method.
    const info = new RequestEvent(req).requestInfo();
    // As PocketBase: not in realtime events, where a hidden field stays hidden.
    const superuser = !req.realtime && !!req.auth && req.auth.collection.name === "_superusers";
    const visit = (rec) => {
      if (!rec || typeof rec !== "object" || Array.isArray(rec)) return rec;
      if (rec.expand && typeof rec.expand === "object") {
        for (const k of Object.keys(rec.expand)) {
          const v = rec.expand[k];
          rec.expand[k] = Array.isArray(v) ? v.map(visit) : visit(v);
        }
      }
      const bound = input.bound[rec.collectionName];
      if (!bound) return rec;
      const record = new Record({ id: rec.collectionId, name: rec.collectionName }, rec);
      record.__new = false;
      const e = new RecordEvent(record);
      e.requestInfo = info;
      e.__chain = bound.ids.map(handler);
      e.next();
      // As PocketBase: a superuser sees every field of the collection, whatever was hidden.
      if (superuser) record.unhide(bound.fields);
      const data = record.__data;
      const out = {};
      for (const k of Object.keys(data)) {
        if (record.__hidden && record.__hidden.has(k)) continue;
        const kept = k in rec || k === "collectionId" || k === "collectionName" || k === "expand"
          || bound.fields.includes(k) || record.__custom;
        if (kept) out[k] = data[k];
      }
      return out;
    };
    return JSON.stringify(input.records.map(visit));
  };

  // An after hook (`...Success`, `...Error` with `e.error`), once the write's transaction
  // has ended.
  global.__afterHook = function (input) {
    const record = new Record(input.collection, input.record);
    record.__new = false;
    const e = new RecordEvent(record);
    if (input.error) {
      e.error = new ApiError(input.error.status, input.error.message);
      e.error.data = input.error.data || {};
    }
    e.__chain = input.ids.map(handler);
    e.next();
    return "";
  };

  // ---- registration (the loader) ----------------------------------------------------------
  function source(fn, what) {
    if (typeof fn !== "function") throw new TypeError(what + " must be a function");
    return String(fn);
  }
  function middlewares(list) {
    return list.map((m) => {
      if (m && m.__builtin) return m;
      if (m && m.__middleware) return { js: source(m.func, "Middleware"), priority: m.priority || 0 };
      return { js: source(m, "middleware"), priority: 0 };
    });
  }
  global.Middleware = function (func, priority, id) {
    this.__middleware = true;
    this.func = func;
    this.priority = priority || 0;
    this.id = id || "";
  };
  global.$apis = {
    requireAuth: (...collections) => ({ __builtin: "requireAuth", args: collections.flat() }),
    requireSuperuserAuth: () => ({ __builtin: "requireSuperuserAuth", args: [] }),
    requireGuestOnly: () => ({ __builtin: "requireGuestOnly", args: [] }),
    requireSuperuserOrOwnerAuth: (param) => ({ __builtin: "requireSuperuserOrOwnerAuth", args: [param || "id"] }),
    bodyLimit: (bytes) => ({ __builtin: "bodyLimit", args: [Number(bytes) || 0] }),
  };
  global.routerAdd = function (method, path, handler, ...mws) {
    native("register", JSON.stringify(["route", {
      method: String(method), path: String(path), handler: source(handler, "routerAdd handler"),
      middlewares: middlewares(mws), file: global.__file || "",
    }]));
  };
  // Event hooks: `onRecordCreate(handler, ...collections)` and the rest of PocketBase's
  // `on*` bindings. hearth runs the record write hooks; binding another one loads with a
  // warning.
  const HOOKS = [
    "onBootstrap", "onTerminate", "onBackupCreate", "onBackupRestore",
    "onModelValidate", "onModelCreate", "onModelCreateExecute", "onModelAfterCreateSuccess",
    "onModelAfterCreateError", "onModelUpdate", "onModelUpdateExecute", "onModelAfterUpdateSuccess",
    "onModelAfterUpdateError", "onModelDelete", "onModelDeleteExecute", "onModelAfterDeleteSuccess",
    "onModelAfterDeleteError",
    "onRecordEnrich", "onRecordValidate", "onRecordCreate", "onRecordCreateExecute",
    "onRecordAfterCreateSuccess", "onRecordAfterCreateError", "onRecordUpdate",
    "onRecordUpdateExecute", "onRecordAfterUpdateSuccess", "onRecordAfterUpdateError",
    "onRecordDelete", "onRecordDeleteExecute", "onRecordAfterDeleteSuccess",
    "onRecordAfterDeleteError",
    "onRecordsListRequest", "onRecordViewRequest", "onRecordCreateRequest",
    "onRecordUpdateRequest", "onRecordDeleteRequest", "onRecordAuthRequest",
    "onRecordAuthWithPasswordRequest", "onRecordAuthWithOAuth2Request", "onRecordAuthRefreshRequest",
    "onRecordRequestPasswordResetRequest", "onRecordConfirmPasswordResetRequest",
    "onRecordRequestVerificationRequest", "onRecordConfirmVerificationRequest",
    "onRecordRequestEmailChangeRequest", "onRecordConfirmEmailChangeRequest",
    "onRecordRequestOTPRequest", "onRecordAuthWithOTPRequest",
    "onCollectionValidate", "onCollectionCreate", "onCollectionUpdate", "onCollectionDelete",
    "onCollectionAfterCreateSuccess", "onCollectionAfterUpdateSuccess", "onCollectionAfterDeleteSuccess",
    "onMailerSend", "onMailerRecordPasswordResetSend", "onMailerRecordVerificationSend",
    "onMailerRecordEmailChangeSend", "onMailerRecordOTPSend", "onMailerRecordAuthAlertSend",
    "onRealtimeConnectRequest", "onRealtimeSubscribeRequest", "onRealtimeMessageSend",
    "onFileDownloadRequest", "onFileTokenRequest", "onSettingsListRequest",
    "onSettingsUpdateRequest", "onSettingsReload", "onBatchRequest",
    "onCollectionsListRequest", "onCollectionViewRequest", "onCollectionCreateRequest",
    "onCollectionUpdateRequest", "onCollectionDeleteRequest", "onCollectionsImportRequest",
  ];
  for (const name of HOOKS) {
    global[name] = function (fn, ...tags) {
      native("register", JSON.stringify(["hook", {
        name, handler: source(fn, name + " handler"), collections: tags.flat().map(String),
        file: global.__file || "",
      }]));
    };
  }

  // Scheduled jobs: `cronAdd(id, "*/5 * * * *", fn)`, listed and run by `/api/crons`.
  global.cronAdd = function (id, expr, fn) {
    native("register", JSON.stringify(["cron", {
      id: String(id), expr: String(expr), handler: source(fn, "cronAdd handler"), file: global.__file || "",
    }]));
  };
  global.cronRemove = function (id) {
    call("cronRemove", String(id));
  };
  global.__cron = function (id) {
    handler(id)();
    return "";
  };
  // A job a handler added while the server runs: compiled from its source once per runtime.
  const addedJobs = {};
  global.__cronSource = function (job) {
    if (!addedJobs[job.source]) {
      addedJobs[job.source] = global.__compile("(" + job.source + ")", job.file || "cronAdd handler");
    }
    addedJobs[job.source]();
    return "";
  };

  global.routerUse = function (...mws) {
    native("register", JSON.stringify(["use", { middlewares: middlewares(mws), file: global.__file || "" }]));
  };
})(globalThis);

// hearth's JS hooks runtime: PocketBase's JSVM API (names and semantics of its
// plugins/jsvm and types.d.ts) on top of one native function, `__native(op, json)`, which
// answers JSON text: {"ok": value} or {"error": {status, message, data}}.
"use strict";

(function (global) {
  const native = global.__native;

  function call(op, args) {
    const answer = JSON.parse(native(op, JSON.stringify(args === undefined ? null : args)));
    if (answer.error) throw nativeError(answer.error);
    return answer.ok;
  }
  global.__call = call;

  // `call` for an op whose answer the caller may never read: its JSON text, unparsed.
  function callRaw(op, args) {
    return callRawText(op, JSON.stringify(args === undefined ? null : args));
  }

  // `callRaw` with its arguments already JSON text.
  function callRawText(op, text) {
    const answer = native(op, text);
    if (answer.charCodeAt(0) === 61) return answer.slice(1); // "=" + the answer's JSON
    throw nativeError(JSON.parse(answer).error);
  }

  // A server error as PocketBase's ToApiError turns the Go error behind it into an answer:
  // a missing row is its 404, a server fault keeps its status, anything else (validation
  // included) is the generic 400 with the field errors, already safe, as its data.
  function nativeError(e) {
    if (e.thrown) {
      // An ApiError a hook deeper down threw: passed on as it was.
      const err = new ApiError(e.status, e.message);
      err.data = e.data && typeof e.data === "object" ? e.data : {};
      return err;
    }
    let err;
    if (e.status === 404) err = new NotFoundError();
    else if (e.status >= 500) err = new ApiError(e.status, e.message);
    else err = new BadRequestError();
    if (e.status < 500) err.data = e.data && typeof e.data === "object" ? e.data : {};
    err.cause = e.message;
    return err;
  }

  // PocketBase's inflector.Sentenize: upper-case first letter, a final period.
  function sentenize(text) {
    text = String(text === undefined || text === null ? "" : text).trim();
    if (text === "") return text;
    text = text[0].toUpperCase() + text.slice(1);
    return /[.!?]$/.test(text) ? text : text + ".";
  }

  const STATUS_TEXT = {
    400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found",
    405: "Method Not Allowed", 409: "Conflict", 413: "Request Entity Too Large",
    422: "Unprocessable Entity", 429: "Too Many Requests", 500: "Internal Server Error",
    502: "Bad Gateway", 503: "Service Unavailable",
  };

  class ValidationError extends Error {
    constructor(code, message) {
      super(message === undefined ? "" : String(message));
      this.name = "ValidationError";
      this.code = code === undefined ? "" : String(code);
    }
  }
  global.ValidationError = ValidationError;

  // PocketBase's safeErrorsData: nested objects recurse, a ValidationError keeps its code
  // and message, anything else becomes "Invalid value." (so no internal detail leaks).
  function safeData(data) {
    if (!data || typeof data !== "object" || Array.isArray(data)) return {};
    const out = {};
    for (const key of Object.keys(data)) {
      const v = data[key];
      if (v instanceof ValidationError) {
        out[key] = { code: v.code, message: sentenize(v.message) };
      } else if (v && typeof v === "object" && !Array.isArray(v) && !(v instanceof Error)) {
        out[key] = safeData(v);
      } else {
        out[key] = { code: "validation_invalid_value", message: "Invalid value." };
      }
    }
    return out;
  }

  class ApiError extends Error {
    constructor(status, message, data) {
      status = Number(status) || 400;
      if (message === undefined || message === null || message === "") {
        message = STATUS_TEXT[status] || "";
      }
      super(sentenize(message));
      this.name = "ApiError";
      this.status = status;
      this.data = safeData(data);
    }
    toJSON() {
      return { data: this.data, message: this.message, status: this.status };
    }
  }
  function apiErrorClass(name, status, fallback) {
    const cls = class extends ApiError {
      constructor(message, data) {
        super(status, message === undefined || message === null || message === "" ? fallback : message, data);
        this.name = name;
      }
    };
    Object.defineProperty(cls, "name", { value: name });
    return cls;
  }
  global.ApiError = ApiError;
  global.BadRequestError = apiErrorClass("BadRequestError", 400, "Something went wrong while processing your request.");
  global.NotFoundError = apiErrorClass("NotFoundError", 404, "The requested resource wasn't found.");
  global.ForbiddenError = apiErrorClass("ForbiddenError", 403, "You are not allowed to perform this request.");
  global.UnauthorizedError = apiErrorClass("UnauthorizedError", 401, "Missing or invalid authentication.");
  global.TooManyRequestsError = apiErrorClass("TooManyRequestsError", 429, "Too Many Requests.");
  global.InternalServerError = apiErrorClass("InternalServerError", 500, "Something went wrong while processing your request.");

  // The answer a thrown value becomes, as PocketBase's router.ToApiError turns it.
  // With the headers the failed request's handlers had set, which the error answer keeps.
  global.__errorAnswer = function (thrown) {
    const headers = global.__event ? global.__event.__headers : [];
    global.__event = null;
    return JSON.stringify({
      answer: thrown instanceof ApiError ? thrown.toJSON() : null,
      headers,
    });
  };

  // The same for a failure below another JS call (a model hook): the request event of the
  // call above is left as it is.
  global.__nestedErrorAnswer = function (thrown) {
    return JSON.stringify({ answer: thrown instanceof ApiError ? thrown.toJSON() : null, headers: [] });
  };

  // ---- logging, environment, small helpers ----------------------------------------------
  function show(value) {
    if (typeof value === "string") return value;
    if (value instanceof Error) return value.stack ? value.name + ": " + value.message + "\n" + value.stack : String(value);
    try {
      return JSON.stringify(value);
    } catch (_) {
      return String(value);
    }
  }
  function logger(level) {
    return function () {
      native("log", JSON.stringify([level, Array.prototype.map.call(arguments, show).join(" ")]));
    };
  }
  global.console = {
    log: logger("info"), info: logger("info"), debug: logger("debug"),
    warn: logger("warn"), error: logger("error"), trace: logger("debug"),
  };
  global.sleep = function (ms) {
    call("sleep", Number(ms) || 0);
  };
  global.toString = function (value) {
    if (value === null || value === undefined) return "";
    if (typeof value === "string") return value;
    // As PocketBase: only Go byte slices become text; any JS value becomes its JSON.
    return JSON.stringify(value);
  };
  global.toBytes = function (value) {
    if (value === null || value === undefined) return [];
    if (Array.isArray(value)) return value;
    return call("stringToBytes", typeof value === "string" ? value : JSON.stringify(value));
  };
  global.arrayOf = function (model) {
    return [];
  };
  global.DynamicModel = function (shape) {
    Object.assign(this, shape || {});
  };
  global.$http = {
    send: (config) => call("httpSend", config || {}),
  };
  global.$os = {
    getenv: (name) => call("getenv", String(name)),
  };
  global.$security = {
    randomString: (n) => call("randomString", [Number(n) || 0, ""]),
    randomStringWithAlphabet: (n, alphabet) => call("randomString", [Number(n) || 0, String(alphabet)]),
    pseudorandomString: (n) => call("randomString", [Number(n) || 0, ""]),
    pseudorandomStringWithAlphabet: (n, alphabet) => call("randomString", [Number(n) || 0, String(alphabet)]),
    md5: (text) => call("hash", ["md5", String(text)]),
    sha256: (text) => call("hash", ["sha256", String(text)]),
    sha512: (text) => call("hash", ["sha512", String(text)]),
    hs256: (text, secret) => call("hmac", ["sha256", String(text), String(secret)]),
    hs512: (text, secret) => call("hmac", ["sha512", String(text), String(secret)]),
    equal: (a, b) => call("equal", [String(a), String(b)]),
    encrypt: (data, key) => call("encrypt", [String(data), String(key)]),
    decrypt: (text, key) => call("decrypt", [String(text), String(key)]),
    createJWT: (payload, key, seconds) => call("createJWT", [payload || {}, String(key), Number(seconds) || 0]),
    parseJWT: (token, key) => call("parseJWT", [String(token), String(key)]),
    parseUnverifiedJWT: (token) => call("parseUnverifiedJWT", [String(token)]),
  };

  // ---- require(): CommonJS modules, relative to the hooks folder, cached per runtime ----
  const modules = {};
  global.require = function (name) {
    const found = call("readModule", String(name));
    if (modules[found.path]) return modules[found.path].exports;
    const module = { exports: {}, filename: found.path };
    modules[found.path] = module;
    const dirname = found.path.replace(/\/[^/]*$/, "");
    const factory = global.__compile(
      "(function (exports, require, module, __filename, __dirname) {" + found.source + "\n})",
      found.path
    );
    try {
      factory(module.exports, global.require, module, found.path, dirname);
    } catch (e) {
      delete modules[found.path];
      throw e;
    }
    return module.exports;
  };

  // ---- records ----------------------------------------------------------------------------
  // Its state lives in plain `__` properties (a record serializes by `toJSON`); its data
  // may wait as JSON text until first read (`__raw`), which spares a hook that never looks
  // at the written record the parse.
  class Record {
    constructor(collection, data) {
      this.__d = Object.assign({}, data || {});
      this.__raw = null;
      this.__collection = collection || null;
      this.__new = true;
      this.__original = null;
      this.__hidden = null;
      this.__custom = false;
    }
    get __data() {
      if (this.__raw !== null) {
        this.__d = JSON.parse(this.__raw);
        this.__raw = null;
      }
      return this.__d;
    }
    set __data(value) {
      this.__d = value;
      this.__raw = null;
    }
    isNew() { return this.__new; }
    original() {
      const o = new Record(this.__collection, this.__original || this.__data);
      o.__new = this.__new;
      return o;
    }
    fieldsData() { return Object.assign({}, this.__data); }
    getRaw(key) { return this.__data[key]; }
    setRaw(key, value) { this.__data[key] = value; }
    setEmail(v) { this.__data.email = v; }
    setVerified(v) { this.__data.verified = !!v; }
    emailVisibility() { return this.getBool("emailVisibility"); }
    setEmailVisibility(v) { this.__data.emailVisibility = !!v; }
    tokenKey() { return this.getString("tokenKey"); }
    setPassword(p) { this.__password = String(p); }
    setRandomPassword() { const p = global.$security.randomString(30); this.setPassword(p); return p; }
    validatePassword(p) {
      if (this.__password !== undefined) return this.__password === String(p);
      return call("app.validatePassword", [this.__collection ? (this.__collection.id || this.__collection.name) : "", this.id, String(p)]);
    }
    hide(...keys) {
      if (!this.__hidden) this.__hidden = new Set();
      for (const k of keys.flat()) this.__hidden.add(k);
      return this;
    }
    unhide(...keys) { if (this.__hidden) for (const k of keys.flat()) this.__hidden.delete(k); return this; }
    withCustomData(on) { this.__custom = !!on; return this; }
    getDateTime(key) { return this.getString(key); }
    get id() { return this.__data.id; }
    collection() { return this.__collection; }
    get(key) { return this.__data[key]; }
    set(key, value) { this.__data[key] = value; }
    load(data) { Object.assign(this.__data, data || {}); }
    getString(key) { const v = this.__data[key]; return v === undefined || v === null ? "" : String(v); }
    getInt(key) { const v = parseInt(this.__data[key], 10); return isNaN(v) ? 0 : v; }
    getFloat(key) { const v = parseFloat(this.__data[key]); return isNaN(v) ? 0 : v; }
    getBool(key) { const v = this.__data[key]; return v === true || v === "true" || v === 1 || v === "1"; }
    getStringSlice(key) { const v = this.__data[key]; return Array.isArray(v) ? v.map(String) : v ? [String(v)] : []; }
    email() { return this.getString("email"); }
    verified() { return this.getBool("verified"); }
    isSuperuser() { return !!this.__collection && this.__collection.name === "_superusers"; }
    tableName() { return this.__collection ? this.__collection.name : ""; }
    publicExport() {
      const out = {};
      for (const k of Object.keys(this.__data)) if (!this.__hidden || !this.__hidden.has(k)) out[k] = this.__data[k];
      return out;
    }
    toJSON() { return this.publicExport(); }
  }
  global.Record = Record;
  global.__record = function (answer) {
    if (!answer) return null;
    const record = new Record(answer.collection, answer.record);
    record.__new = false;
    record.__original = Object.assign({}, answer.record);
    return record;
  };

  // ---- collections and fields, as PocketBase's Go types are seen from JS ------------------
  class FieldsList extends Array {
    static get [Symbol.species]() { return Array; }
    __index(f) {
      return this.findIndex((x) => (f.id && x.id === f.id) || (!f.id && x.name === f.name));
    }
    add(...fields) {
      for (const f of fields) {
        const at = this.__index(f);
        if (at >= 0) this[at] = f; else this.push(f);
      }
    }
    addAt(pos, ...fields) {
      for (const f of fields) {
        const at = this.__index(f);
        if (at >= 0) this.splice(at, 1);
        this.splice(Math.min(pos++, this.length), 0, f);
      }
    }
    addMarshaledJSON(text) {
      const parsed = JSON.parse(typeof text === "string" ? text : toString(text));
      this.add(...(Array.isArray(parsed) ? parsed : [parsed]).map(toField));
    }
    getById(id) { return this.find((f) => f.id === id) || null; }
    getByName(n) { return this.find((f) => f.name === n) || null; }
    removeById(id) { const at = this.findIndex((f) => f.id === id); if (at >= 0) this.splice(at, 1); }
    removeByName(n) { const at = this.findIndex((f) => f.name === n); if (at >= 0) this.splice(at, 1); }
    fieldNames() { return this.map((f) => f.name); }
    asMap() { const m = {}; for (const f of this) m[f.name] = f; return m; }
  }
  function fieldClass(type) {
    return class extends Field {
      constructor(data) { super(Object.assign({}, data || {}, { type })); }
    };
  }
  class Field {
    constructor(data) { Object.assign(this, data || {}); }
    getName() { return this.name; }
    getId() { return this.id; }
    type() { return this.type; }
  }
  function toField(data) { return data instanceof Field ? data : new Field(data); }
  global.Field = Field;
  const FIELD_TYPES = {
    TextField: "text", NumberField: "number", BoolField: "bool", EmailField: "email",
    URLField: "url", EditorField: "editor", DateField: "date", AutodateField: "autodate",
    SelectField: "select", JSONField: "json", RelationField: "relation", FileField: "file",
    PasswordField: "password", GeoPointField: "geoPoint",
  };
  for (const [cls, type] of Object.entries(FIELD_TYPES)) global[cls] = fieldClass(type);

  class Collection {
    constructor(data) {
      Object.assign(this, { type: "base", fields: [], indexes: [] }, data || {});
      this.fields = FieldsList.from((this.fields || []).map(toField));
      this.indexes = Array.from(this.indexes || []);
    }
    isAuth() { return this.type === "auth"; }
    isBase() { return this.type === "base"; }
    isView() { return this.type === "view"; }
    addIndex(idxName, unique, columns, where) {
      this.removeIndex(idxName);
      let sql = "CREATE " + (unique ? "UNIQUE " : "") + "INDEX `" + idxName + "` ON `" + this.name + "` (" + columns + ")";
      if (where) sql += " WHERE " + where;
      this.indexes.push(sql);
    }
    removeIndex(idxName) {
      this.indexes = this.indexes.filter((i) => !new RegExp("INDEX\\s+(IF\\s+NOT\\s+EXISTS\\s+)?[`\"'\\[]?" + idxName + "[`\"'\\]]?\\s", "i").test(i));
    }
    getIndex(idxName) {
      return this.indexes.find((i) => i.includes("`" + idxName + "`")) || "";
    }
    toJSON() {
      const out = Object.assign({}, this);
      out.fields = Array.from(this.fields).map((f) => Object.assign({}, f));
      return out;
    }
  }
  global.Collection = Collection;

  // PocketBase's `unmarshal(data, target)`: the keys of `data` set on `target`, as Go's
  // JSON decoding into a struct would.
  global.unmarshal = function (data, target) {
    const parsed = typeof data === "string" ? JSON.parse(data) : data;
    for (const key of Object.keys(parsed || {})) {
      if (target instanceof Collection && key === "fields") {
        target.fields = FieldsList.from((parsed.fields || []).map(toField));
      } else {
        target[key] = parsed[key];
      }
    }
    return target;
  };

  // `$app.db().newQuery(sql)`: dbx's query with `{:name}` parameters.
  class Query {
    constructor(sql) { this.sql = sql; this.params = {}; }
    bind(params) { Object.assign(this.params, params || {}); return this; }
    execute() { return call("app.dbExecute", [this.sql, this.params]); }
    one(target) {
      const rows = call("app.dbQuery", [this.sql, this.params]);
      if (!rows.length) throw new Error("sql: no rows in result set");
      if (target) Object.assign(target, rows[0]);
      return target || rows[0];
    }
    all(target) {
      const rows = call("app.dbQuery", [this.sql, this.params]);
      if (Array.isArray(target)) { target.length = 0; target.push(...rows); }
      return target || rows;
    }
  }
  // dbx expressions for `countRecords` and friends: `$dbx.exp(sql, params)`,
  // `$dbx.hashExp({column: value})`, `$dbx.and/or/not(...)`.
  global.$dbx = {
    exp: (expr, params) => ({ __dbx: "exp", expr: String(expr), params: params || {} }),
    hashExp: (pairs) => ({ __dbx: "hash", pairs: pairs || {} }),
    and: (...exprs) => ({ __dbx: "and", exprs }),
    or: (...exprs) => ({ __dbx: "or", exprs }),
    not: (expr) => ({ __dbx: "not", expr }),
  };
  let dbxSeq = 0;
  // An expression as SQL with `{:name}` parameters (names made unique).
  function dbxWhere(exprs) {
    const params = {};
    const one = (e) => {
      if (!e || typeof e !== "object") return "1=1";
      switch (e.__dbx) {
        case "exp": {
          let sql = e.expr;
          for (const [k, v] of Object.entries(e.params)) {
            const unique = "p" + (++dbxSeq) + "_" + k.replace(/\W/g, "");
            sql = sql.split("{:" + k + "}").join("{:" + unique + "}");
            params[unique] = v;
          }
          return "(" + sql + ")";
        }
        case "hash": {
          const parts = Object.entries(e.pairs).map(([k, v]) => {
            if (!/^\w+$/.test(k)) throw new Error("invalid column " + k);
            const unique = "p" + (++dbxSeq);
            params[unique] = v;
            return "[[" + k + "]] = {:" + unique + "}";
          });
          return parts.length ? "(" + parts.join(" AND ") + ")" : "1=1";
        }
        case "and": return "(" + e.exprs.map(one).join(" AND ") + ")";
        case "or": return "(" + e.exprs.map(one).join(" OR ") + ")";
        case "not": return "NOT (" + one(e.expr) + ")";
      }
      return "1=1";
    };
    return { sql: exprs.map(one).join(" AND "), params };
  }

  // ---- migrations: `migrate(up, down)`, collected per file and run by hearth -------------
  global.__migrations = {};
  global.migrate = function (up, down) {
    global.__migrations[global.__file || ""] = { up, down };
  };
  global.__migrate = function (input) {
    const m = global.__migrations[input.file];
    if (!m) throw new Error("no migration in " + input.file);
    const fn = input.direction === "down" ? m.down : m.up;
    if (typeof fn === "function") fn(global.$app);
    return "";
  };

  // A mail for `$app.newMailClient().send(...)`: from, to/cc/bcc ([{address, name}]),
  // subject, html, text.
  class MailerMessage {
    constructor(data) {
      Object.assign(this, { from: {}, to: [], cc: [], bcc: [], subject: "", html: "", text: "", headers: {} }, data || {});
    }
    toJSON() {
      return { from: this.from, to: this.to, cc: this.cc, bcc: this.bcc, subject: this.subject, html: this.html, text: this.text };
    }
  }
  global.MailerMessage = MailerMessage;

  // `$mails`: the account flows' mails for a stored auth record, as PocketBase's.
  function collectionOf(record) {
    return record.__collection ? (record.__collection.id || record.__collection.name) : "";
  }
  function mailLink(record, kind, newEmail) {
    call("app.mailLink", [collectionOf(record), record.id, kind, newEmail || ""]);
  }
  function mailNotice(record, kind, extra) {
    call("app.mailNotice", [collectionOf(record), record.id, kind, extra]);
  }
  global.$mails = {
    sendRecordVerification: (app, record) => mailLink(record, "verification"),
    sendRecordPasswordReset: (app, record) => mailLink(record, "passwordReset"),
    sendRecordChangeEmail: (app, record, newEmail) => mailLink(record, "emailChange", String(newEmail)),
    sendRecordOTP: (app, record, otpId, pass) =>
      mailNotice(record, "otp", { OTP: String(pass ?? ""), OTP_ID: String(otpId ?? "") }),
    sendRecordAuthAlert: (app, record, info) =>
      mailNotice(record, "authAlert", { ALERT_INFO: String(info ?? "") }),
  };

  // `$app.runInTransaction(fn)`: the callbacks waiting for their transaction, by number.
  const txFns = {};
  let txSeq = 0;
  global.__runTx = function (n) {
    txFns[n](global.$app);
    return "";
  };

  // ---- $app: reads with full access ---------------------------------------------------
  const name = (c) => (c && typeof c === "object" ? c.id || c.name : String(c));
  global.$app = {
    findCollectionByNameOrId: (c) => new Collection(call("app.findCollectionByNameOrId", [name(c)])),
    findAllCollections: (...types) => call("app.findAllCollections", types.flat().map(String)).map((c) => new Collection(c)),
    importCollections: (list, deleteMissing) => {
      for (const c of list || []) global.$app.save(c instanceof Collection ? c : new Collection(c));
      if (deleteMissing) {
        const keep = (list || []).map((c) => c.id || c.name);
        for (const c of global.$app.findAllCollections()) {
          if (!c.system && !keep.includes(c.id) && !keep.includes(c.name)) global.$app.delete(c);
        }
      }
    },
    db: () => ({
      newQuery: (sql) => new Query(String(sql)),
    }),
    settings: () => call("app.settings"),
    logger: () => ({
      debug: (msg, ...attrs) => native("log", JSON.stringify(["debug", [msg, ...attrs].map(show).join(" ")])),
      info: (msg, ...attrs) => native("log", JSON.stringify(["info", [msg, ...attrs].map(show).join(" ")])),
      warn: (msg, ...attrs) => native("log", JSON.stringify(["warn", [msg, ...attrs].map(show).join(" ")])),
      error: (msg, ...attrs) => native("log", JSON.stringify(["error", [msg, ...attrs].map(show).join(" ")])),
    }),
    newMailClient: () => ({
      send: (message) => call("app.sendMail", message instanceof MailerMessage ? message.toJSON() : message),
    }),
    runInTransaction: (fn) => {
      const n = ++txSeq;
      txFns[n] = fn;
      try {
        call("app.runInTransaction", n);
      } finally {
        delete txFns[n];
      }
    },
    findRecordById: (c, id) => global.__record(call("app.findRecordById", [name(c), String(id)])),
    findRecordsByIds: (c, ids) => call("app.findRecordsByIds", [name(c), (ids || []).map(String)]).map(global.__record),
    findRecordsByFilter: (c, filter, sort, limit, offset, params) =>
      call("app.findRecordsByFilter", [name(c), String(filter || ""), String(sort || ""), Number(limit) || 0, Number(offset) || 0, params || {}]).map(global.__record),
    findFirstRecordByFilter: (c, filter, params) =>
      global.__record(call("app.findFirstRecordByFilter", [name(c), String(filter || ""), params || {}])),
    findFirstRecordByData: (c, key, value) =>
      global.__record(call("app.findFirstRecordByData", [name(c), String(key), value])),
    findAuthRecordByEmail: (c, email) => global.__record(call("app.findAuthRecordByEmail", [name(c), String(email)])),
    countRecords: (c, ...exprs) => {
      if (!exprs.length) return call("app.countRecords", [name(c)]);
      const where = dbxWhere(exprs);
      const table = global.$app.findCollectionByNameOrId(c).name;
      const rows = call("app.dbQuery", ["SELECT count(*) AS n FROM [[" + table + "]] WHERE " + where.sql, where.params]);
      return rows.length ? rows[0].n : 0;
    },
    save: (record) => saveRecord(record, true),
    // As `save`, without the fields' rules and `onRecordValidate` hooks.
    saveNoValidate: (record) => saveRecord(record, false),
    delete: (record) => {
      if (record instanceof Collection) {
        call("app.deleteCollection", [record.id || record.name]);
        return;
      }
      call("app.delete", [name(record.collection()), record.id]);
    },
  };
  function saveRecord(record, validate) {
    if (record instanceof Collection) {
      Object.assign(record, new Collection(call("app.saveCollection", record.toJSON())));
      return;
    }
    const data = Object.assign({}, record.__data);
    if (record.__password !== undefined) data.password = data.passwordConfirm = record.__password;
    const saved = call("app.save", {
      collection: name(record.collection()), id: record.id, isNew: record.isNew(), data, validate,
    });
    record.__password = undefined;
    record.__data = saved.record;
    record.__collection = saved.collection;
    record.__new = false;
  }
  global.__callRaw = callRaw;
  global.__callRawText = callRawText;
})(globalThis);

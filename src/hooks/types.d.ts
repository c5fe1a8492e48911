// Written by hearth at start: the JS hooks API it supports (PocketBase's names and
// semantics). Reference it from a hooks file for editor completion:
//   /// <reference path="types.d.ts" />

declare class ApiError extends Error {
  constructor(status?: number, message?: string, data?: { [key: string]: any });
  status: number;
  data: { [key: string]: any };
}
declare class BadRequestError extends ApiError { constructor(message?: string, data?: { [key: string]: any }); }
declare class NotFoundError extends ApiError { constructor(message?: string, data?: { [key: string]: any }); }
declare class ForbiddenError extends ApiError { constructor(message?: string, data?: { [key: string]: any }); }
declare class UnauthorizedError extends ApiError { constructor(message?: string, data?: { [key: string]: any }); }
declare class TooManyRequestsError extends ApiError { constructor(message?: string, data?: { [key: string]: any }); }
declare class InternalServerError extends ApiError { constructor(message?: string, data?: { [key: string]: any }); }

declare class Record {
  constructor(collection: { id?: string; name?: string } | string, data?: { [key: string]: any });
  readonly id: string;
  isNew(): boolean;
  collection(): { id: string; name: string; type: string } | null;
  get(key: string): any;
  set(key: string, value: any): void;
  load(data: { [key: string]: any }): void;
  getString(key: string): string;
  getInt(key: string): number;
  getFloat(key: string): number;
  getBool(key: string): boolean;
  getStringSlice(key: string): string[];
  email(): string;
  verified(): boolean;
  isSuperuser(): boolean;
  publicExport(): { [key: string]: any };
}

interface RequestInfo {
  query: { [key: string]: string };
  headers: { [key: string]: string };
  body: { [key: string]: any };
  auth: Record | null;
  method: string;
  context: string;
  hasSuperuserAuth(): boolean;
}

interface RequestEvent {
  auth: Record | null;
  request: {
    method: string;
    host: string;
    remoteAddr: string;
    url: {
      path: string;
      rawQuery: string;
      query(): { get(key: string): string; has(key: string): boolean };
      string(): string;
    };
    header: { get(key: string): string; values(key: string): string[] };
    pathValue(name: string): string;
  };
  response: {
    header(): { set(key: string, value: string): void; add(key: string, value: string): void; get(key: string): string; del(key: string): void };
  };
  next(): void;
  requestInfo(): RequestInfo;
  hasSuperuserAuth(): boolean;
  isTLS(): boolean;
  realIP(): string;
  remoteIP(): string;
  bindBody(target: any): void;
  json(status: number, data: any): void;
  string(status: number, text: string): void;
  html(status: number, text: string): void;
  xml(status: number, text: string): void;
  blob(status: number, contentType: string, bytes: number[]): void;
  noContent(status: number): void;
  redirect(status: number, url: string): void;
  error(status: number, message: string, data?: any): ApiError;
  badRequestError(message: string, data?: any): ApiError;
  notFoundError(message: string, data?: any): ApiError;
  forbiddenError(message: string, data?: any): ApiError;
  unauthorizedError(message: string, data?: any): ApiError;
  tooManyRequestsError(message: string, data?: any): ApiError;
  internalServerError(message: string, data?: any): ApiError;
}

type Handler = (e: RequestEvent) => void;
interface BuiltinMiddleware { readonly __builtin: string }
declare class Middleware {
  constructor(func: Handler, priority?: number, id?: string);
}

declare function routerAdd(method: string, path: string, handler: Handler, ...middlewares: Array<Handler | Middleware | BuiltinMiddleware>): void;
declare function routerUse(...middlewares: Array<Handler | Middleware | BuiltinMiddleware>): void;

declare namespace $apis {
  function requireAuth(...collections: string[]): BuiltinMiddleware;
  function requireSuperuserAuth(): BuiltinMiddleware;
  function requireGuestOnly(): BuiltinMiddleware;
  function requireSuperuserOrOwnerAuth(ownerIdPathParam?: string): BuiltinMiddleware;
  function bodyLimit(bytes: number): BuiltinMiddleware;
}

declare namespace $security {
  function randomString(length: number): string;
  function randomStringWithAlphabet(length: number, alphabet: string): string;
  function pseudorandomString(length: number): string;
  function pseudorandomStringWithAlphabet(length: number, alphabet: string): string;
  function md5(text: string): string;
  function sha256(text: string): string;
  function sha512(text: string): string;
  function hs256(text: string, secret: string): string;
  function hs512(text: string, secret: string): string;
  function equal(a: string, b: string): boolean;
}

declare namespace $os {
  function getenv(name: string): string;
}

declare function sleep(milliseconds: number): void;
declare function toString(value: any): string;
declare function toBytes(value: any): number[];

/** The absolute path of the hooks folder. */
declare const __hooks: string;
/** A CommonJS module: relative paths from the hooks folder, `.js` optional. */
declare function require(path: string): any;

declare namespace $http {
  function send(config: {
    url: string;
    method?: string;
    body?: string;
    data?: { [key: string]: any };
    headers?: { [key: string]: string };
    timeout?: number;
  }): {
    statusCode: number;
    headers: { [key: string]: string[] };
    cookies: { [key: string]: { name: string; value: string; path: string; domain: string; raw: string; httpOnly: boolean; secure: boolean } };
    raw: string;
    body: number[];
    json: any;
  };
}

/** The app, with full access (no rules). */
declare namespace $app {
  function findCollectionByNameOrId(nameOrId: string): { id: string; name: string; type: string; [key: string]: any };
  function findRecordById(collection: string, id: string): Record;
  function findRecordsByIds(collection: string, ids: string[]): Record[];
  function findRecordsByFilter(collection: string, filter: string, sort?: string, limit?: number, offset?: number, params?: { [key: string]: any }): Record[];
  function findFirstRecordByFilter(collection: string, filter: string, params?: { [key: string]: any }): Record;
  function findFirstRecordByData(collection: string, key: string, value: any): Record;
  function findAuthRecordByEmail(collection: string, email: string): Record;
  function countRecords(collection: string): number;
  /** Creates a new record or updates a found one, with validation, files, realtime and webhooks. */
  function save(record: Record): void;
  function saveNoValidate(record: Record): void;
  function delete(record: Record): void;
}

/** What a record hook gets: the record, and `next()` to go on. */
interface RecordEvent {
  record: Record;
  /** The app; inside a model hook it works in the write's own transaction. */
  app: typeof $app;
  /** Set in the `...Error` after hooks. */
  error?: ApiError;
  /** Goes on: the next hook, then the write itself (model hooks). */
  next(): void;
}
type RecordHandler = (e: RecordEvent) => void;

/**
 * Model hooks, inside the write's transaction: change `e.record` before `e.next()`, or throw
 * to refuse the write (nothing of it is kept). Optional collection names or ids.
 */
declare function onRecordValidate(handler: RecordHandler, ...collections: string[]): void;
declare function onRecordCreate(handler: RecordHandler, ...collections: string[]): void;
declare function onRecordCreateExecute(handler: RecordHandler, ...collections: string[]): void;
declare function onRecordUpdate(handler: RecordHandler, ...collections: string[]): void;
declare function onRecordUpdateExecute(handler: RecordHandler, ...collections: string[]): void;
declare function onRecordDelete(handler: RecordHandler, ...collections: string[]): void;
declare function onRecordDeleteExecute(handler: RecordHandler, ...collections: string[]): void;
/** After hooks, once the write's transaction has committed (Success) or failed (Error). */
declare function onRecordAfterCreateSuccess(handler: RecordHandler, ...collections: string[]): void;
declare function onRecordAfterCreateError(handler: RecordHandler, ...collections: string[]): void;
declare function onRecordAfterUpdateSuccess(handler: RecordHandler, ...collections: string[]): void;
declare function onRecordAfterUpdateError(handler: RecordHandler, ...collections: string[]): void;
declare function onRecordAfterDeleteSuccess(handler: RecordHandler, ...collections: string[]): void;
declare function onRecordAfterDeleteError(handler: RecordHandler, ...collections: string[]): void;

/** A collection definition, as PocketBase's collection JSON. */
declare class Collection {
  constructor(data?: { [key: string]: any });
  id: string;
  name: string;
  type: "base" | "auth" | "view";
  listRule: string | null;
  viewRule: string | null;
  createRule: string | null;
  updateRule: string | null;
  deleteRule: string | null;
  indexes: string[];
  fields: FieldsList;
  [key: string]: any;
  addIndex(name: string, unique: boolean, columns: string, where?: string): void;
  removeIndex(name: string): void;
  getIndex(name: string): string;
}
declare class Field { constructor(data?: { [key: string]: any }); [key: string]: any; }
declare class TextField extends Field {}
declare class NumberField extends Field {}
declare class BoolField extends Field {}
declare class EmailField extends Field {}
declare class URLField extends Field {}
declare class EditorField extends Field {}
declare class DateField extends Field {}
declare class AutodateField extends Field {}
declare class SelectField extends Field {}
declare class JSONField extends Field {}
declare class RelationField extends Field {}
declare class FileField extends Field {}
declare class PasswordField extends Field {}
declare class GeoPointField extends Field {}
interface FieldsList extends Array<Field> {
  add(...fields: Field[]): void;
  addAt(position: number, ...fields: Field[]): void;
  addMarshaledJSON(json: string): void;
  getById(id: string): Field | null;
  getByName(name: string): Field | null;
  removeById(id: string): void;
  removeByName(name: string): void;
  fieldNames(): string[];
}
/** Sets the keys of `data` on `target`. */
declare function unmarshal(data: { [key: string]: any } | string, target: any): any;
/** A JS migration: `up` runs when it is applied, `down` when it is reverted. */
declare function migrate(up: (app: typeof $app) => void, down?: (app: typeof $app) => void): void;
interface Query {
  bind(params: { [key: string]: any }): Query;
  execute(): { rowsAffected: number };
  one(model?: any): any;
  all(list?: any[]): any[];
}
declare namespace $app {
  function findAllCollections(...types: string[]): Collection[];
  function importCollections(collections: Array<Collection | { [key: string]: any }>, deleteMissing?: boolean): void;
  function db(): { newQuery(sql: string): Query };
}

/** What a record request hook gets: the request event with the record and its collection. */
interface RecordRequestEvent extends RequestEvent {
  record: Record;
  collection: { id: string; name: string; type: string };
}
type RecordRequestHandler = (e: RecordRequestEvent) => void;
/** Request hooks: around the API's handling of one request; `e.next()` runs it and answers. */
declare function onRecordCreateRequest(handler: RecordRequestHandler, ...collections: string[]): void;
declare function onRecordUpdateRequest(handler: RecordRequestHandler, ...collections: string[]): void;
declare function onRecordDeleteRequest(handler: RecordRequestHandler, ...collections: string[]): void;
declare function onRecordViewRequest(handler: RecordRequestHandler, ...collections: string[]): void;

/** A scheduled job: a 5-field cron expression (UTC) or a macro such as `@daily`. */
declare function cronAdd(id: string, expression: string, handler: () => void): void;
declare function cronRemove(id: string): void;

/** What an enrich hook gets: a record about to be sent, and the request's info. */
interface RecordEnrichEvent {
  record: Record;
  requestInfo: RequestInfo;
  app: typeof $app;
  next(): void;
}
/** Shapes every record an answer holds (lists, views, write answers, expands). */
declare function onRecordEnrich(handler: (e: RecordEnrichEvent) => void, ...collections: string[]): void;

/** Runs once at start, before migrations and the first request; go on with `e.next()`. */
declare function onBootstrap(handler: (e: { app: typeof $app; next(): void }) => void): void;
/** Runs once the server has stopped serving. */
declare function onTerminate(handler: (e: { app: typeof $app; next(): void }) => void): void;
declare namespace $app {
  /** Runs `fn` in one write transaction: committed when it returns, rolled back when it throws. */
  function runInTransaction(fn: (txApp: typeof $app) => void): void;
}
declare namespace $security {
  function createJWT(payload: { [key: string]: any }, signingKey: string, secDuration: number): string;
  function parseJWT(token: string, verificationKey: string): { [key: string]: any };
  function parseUnverifiedJWT(token: string): { [key: string]: any };
}

interface MailAddress { address: string; name?: string }
declare class MailerMessage {
  constructor(data?: { from?: MailAddress; to?: MailAddress[]; cc?: MailAddress[]; bcc?: MailAddress[]; subject?: string; html?: string; text?: string });
}
declare namespace $app {
  function settings(): { [key: string]: any };
  function logger(): { debug(msg: string, ...attrs: any[]): void; info(msg: string, ...attrs: any[]): void; warn(msg: string, ...attrs: any[]): void; error(msg: string, ...attrs: any[]): void };
  function newMailClient(): { send(message: MailerMessage): void };
}

interface RecordAuthRequestEvent extends RecordRequestEvent {
  token: string;
  meta: any;
  authMethod: string;
}
/** A sign-in's or refresh's answer: change `e.meta`, or throw to refuse; `e.next()` sends it. */
declare function onRecordAuthRequest(handler: (e: RecordAuthRequestEvent) => void, ...collections: string[]): void;

interface RecordAuthWithPasswordRequestEvent extends RequestEvent {
  collection: { id: string; name: string; type: string };
  /** The record the identity found; null when none (a hook may set it). */
  record: Record | null;
  identity: string;
  identityField: string;
  password: string;
}
/** A password sign-in: throw to refuse, or change the record or password; `e.next()` checks the password and signs in. */
declare function onRecordAuthWithPasswordRequest(handler: (e: RecordAuthWithPasswordRequestEvent) => void, ...collections: string[]): void;

interface OAuth2User {
  id: string;
  name: string;
  username: string;
  email: string;
  avatarURL: string;
  accessToken: string;
  refreshToken: string;
  expiry: string;
  rawUser: { [key: string]: any };
}

interface RecordAuthWithOAuth2RequestEvent extends RequestEvent {
  collection: { id: string; name: string; type: string };
  /** The record the identity signs in as; null for a new user (a hook may set it). */
  record: Record | null;
  providerName: string;
  oAuth2User: OAuth2User;
  /** The body's `createData`, for a new record (a hook may change it). */
  createData: { [key: string]: any };
  isNewRecord: boolean;
}
/** An OAuth2 sign-in once the provider said who the user is: throw to refuse, or change the record, the create data or the user; `e.next()` links or creates the record and signs in. */
declare function onRecordAuthWithOAuth2Request(handler: (e: RecordAuthWithOAuth2RequestEvent) => void, ...collections: string[]): void;

interface RecordAuthRefreshRequestEvent extends RequestEvent {
  collection: { id: string; name: string; type: string };
  record: Record;
}
/** An `auth-refresh`: throw to refuse; `e.next()` answers with a fresh token for `e.record`. */
declare function onRecordAuthRefreshRequest(handler: (e: RecordAuthRefreshRequestEvent) => void, ...collections: string[]): void;

interface RecordCreateOTPRequestEvent extends RequestEvent {
  collection: { id: string; name: string; type: string };
  /** The account with the email; null when none (a hook may set it). */
  record: Record | null;
  /** The code to store and mail (a hook may change it). */
  password: string;
}
/** `request-otp`: throw to refuse; `e.next()` stores and mails the code and answers its `otpId`. */
declare function onRecordRequestOTPRequest(handler: (e: RecordCreateOTPRequestEvent) => void, ...collections: string[]): void;

interface RecordAuthWithOTPRequestEvent extends RequestEvent {
  collection: { id: string; name: string; type: string };
  record: Record;
  /** The code's row, a record (`id`, `get("sentTo")`, ...) with PocketBase's getters. */
  otp: Record & { recordRef(): string; collectionRef(): string; sentTo(): string };
}
/** `auth-with-otp` once the code matched: throw to refuse; `e.next()` spends it and signs in. */
declare function onRecordAuthWithOTPRequest(handler: (e: RecordAuthWithOTPRequestEvent) => void, ...collections: string[]): void;

interface RecordAccountRequestEvent extends RequestEvent {
  collection: { id: string; name: string; type: string };
  record: Record;
}
/** Account flows, once their record is found: throw to refuse; `e.next()` does the flow and answers 204. */
declare function onRecordRequestVerificationRequest(handler: (e: RecordAccountRequestEvent) => void, ...collections: string[]): void;
declare function onRecordConfirmVerificationRequest(handler: (e: RecordAccountRequestEvent) => void, ...collections: string[]): void;
declare function onRecordRequestPasswordResetRequest(handler: (e: RecordAccountRequestEvent) => void, ...collections: string[]): void;
declare function onRecordConfirmPasswordResetRequest(handler: (e: RecordAccountRequestEvent) => void, ...collections: string[]): void;
interface RecordEmailChangeRequestEvent extends RecordAccountRequestEvent {
  newEmail: string;
}
declare function onRecordRequestEmailChangeRequest(handler: (e: RecordEmailChangeRequestEvent) => void, ...collections: string[]): void;
declare function onRecordConfirmEmailChangeRequest(handler: (e: RecordEmailChangeRequestEvent) => void, ...collections: string[]): void;

interface RecordsListRequestEvent extends RequestEvent {
  collection: { id: string; name: string; type: string };
  records: Record[];
  result: { page: number; perPage: number; totalItems: number; totalPages: number; items: Record[] };
}
/** A list's records and result before they are sent (and enriched). */
declare function onRecordsListRequest(handler: (e: RecordsListRequestEvent) => void, ...collections: string[]): void;
declare namespace $security {
  /** AES-GCM with a 16- or 32-byte key; base64 of the nonce and the sealed data. */
  function encrypt(data: string, key: string): string;
  function decrypt(cipherText: string, key: string): string;
}
declare namespace $dbx {
  function exp(sql: string, params?: { [key: string]: any }): any;
  function hashExp(pairs: { [column: string]: any }): any;
  function and(...exprs: any[]): any;
  function or(...exprs: any[]): any;
  function not(expr: any): any;
}

/** The account flows' mails for a stored auth record, queued as the flows queue them. */
declare namespace $mails {
  function sendRecordVerification(app: any, record: Record): void;
  function sendRecordPasswordReset(app: any, record: Record): void;
  function sendRecordChangeEmail(app: any, record: Record, newEmail: string): void;
  function sendRecordOTP(app: any, record: Record, otpId: string, pass: string): void;
  function sendRecordAuthAlert(app: any, record: Record, info: string): void;
}

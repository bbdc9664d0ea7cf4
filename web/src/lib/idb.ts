/**
 * A tiny promise wrapper over IndexedDB: one database, one key-value object store.
 * Everything the client keeps across reloads that is not a token lives here.
 */
const DB_NAME = 'parley';
const STORE = 'kv';

let opening: Promise<IDBDatabase> | undefined;

function open(): Promise<IDBDatabase> {
  opening ??= new Promise<IDBDatabase>((resolve, reject) => {
    const req = indexedDB.open(DB_NAME, 1);
    req.onupgradeneeded = () => {
      if (!req.result.objectStoreNames.contains(STORE)) req.result.createObjectStore(STORE);
    };
    req.onsuccess = () => {
      const db = req.result;
      // Another tab upgrading the schema: let it, and reopen next time.
      db.onversionchange = () => {
        db.close();
        opening = undefined;
      };
      resolve(db);
    };
    req.onerror = () => {
      opening = undefined;
      reject(req.error ?? new Error('IndexedDB could not be opened.'));
    };
    req.onblocked = () => reject(new Error('IndexedDB is blocked by another tab.'));
  });
  return opening;
}

function run<T>(mode: IDBTransactionMode, fn: (store: IDBObjectStore) => IDBRequest<T>): Promise<T> {
  return open().then(
    (db) =>
      new Promise<T>((resolve, reject) => {
        const tx = db.transaction(STORE, mode);
        const req = fn(tx.objectStore(STORE));
        // Resolve when the transaction is durable, not merely when the request succeeded.
        tx.oncomplete = () => resolve(req.result);
        tx.onerror = () => reject(tx.error ?? req.error ?? new Error('IndexedDB transaction failed.'));
        tx.onabort = () => reject(tx.error ?? new Error('IndexedDB transaction aborted.'));
      }),
  );
}

/** True where IndexedDB can be used (not in some private modes). */
export function hasIndexedDb(): boolean {
  return typeof indexedDB !== 'undefined';
}

export function idbGet<T>(key: string): Promise<T | undefined> {
  return run<T | undefined>('readonly', (s) => s.get(key) as IDBRequest<T | undefined>);
}

export function idbSet(key: string, value: unknown): Promise<void> {
  return run('readwrite', (s) => s.put(value, key)).then(() => undefined);
}

export function idbDelete(key: string): Promise<void> {
  return run('readwrite', (s) => s.delete(key)).then(() => undefined);
}

/** Deletes every key that starts with `prefix`. */
export function idbDeletePrefix(prefix: string): Promise<void> {
  return run('readwrite', (s) => s.delete(IDBKeyRange.bound(prefix, `${prefix}\uffff`))).then(() => undefined);
}

/** A tiny IndexedDB key-value store for checkpoints (one object store, ArrayBuffer values). */
const DB = 'descent-demo';
const STORE = 'checkpoints';

function open(): Promise<IDBDatabase> {
  return new Promise((resolve, reject) => {
    const req = indexedDB.open(DB, 1);
    req.onupgradeneeded = () => req.result.createObjectStore(STORE);
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(req.error ?? new Error('IndexedDB: could not open the database'));
  });
}

async function tx<T>(mode: IDBTransactionMode, fn: (s: IDBObjectStore) => IDBRequest<T>): Promise<T> {
  const db = await open();
  try {
    return await new Promise<T>((resolve, reject) => {
      const req = fn(db.transaction(STORE, mode).objectStore(STORE));
      req.onsuccess = () => resolve(req.result);
      req.onerror = () => reject(req.error ?? new Error('IndexedDB request failed'));
    });
  } finally {
    db.close();
  }
}

export const putCheckpoint = (key: string, buf: ArrayBuffer) => tx('readwrite', (s) => s.put(buf, key));
export const getCheckpoint = (key: string) => tx<ArrayBuffer | undefined>('readonly', (s) => s.get(key));
export const listCheckpoints = () => tx<IDBValidKey[]>('readonly', (s) => s.getAllKeys());

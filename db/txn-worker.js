// The thread behind `openTransactionThread` (db/txn-thread.ts): its own connection to the database file,
// which runs each transaction it is sent (BEGIN IMMEDIATE … COMMIT, statements prepared once per
// SQL text) and answers once it is committed, or with the error that rolled it back.
// Plain JavaScript so that Node (tests), Bun and Deno all load it without a TypeScript loader.
import { parentPort, workerData } from 'node:worker_threads'
import Database from 'libsql'

const { path, pragmas, lock } = workerData
// The write lock's shared state (db/lock-watch.ts): slot 0 is 1 while another process is known to
// hold the lock, slot 1 since when. A transaction sent meanwhile is refused at once instead of
// waiting out the busy timeout here, each in turn; this thread sets it when its own wait ran out.
const busyMs = Number(/busy_timeout=(\d+)/.exec(pragmas.join(' '))?.[1] ?? 5000)
const lockHeld = () => lock !== undefined && Atomics.load(lock, 0) === 1n
function noteLockFailure(e, waitedMs) {
  if (lock === undefined || waitedMs < busyMs / 2 || !/^SQLITE_(BUSY|LOCKED)/.test(String(e?.code ?? ''))) return
  if (Atomics.load(lock, 0) === 1n) return
  Atomics.store(lock, 1, BigInt(Date.now()))
  Atomics.store(lock, 0, 1n)
}
const db = new Database(path)
// The settings of every connection, and this one's page cache (PAGE_CACHE_KB.thread in db/client.ts:
// 16 MB, for the alert intake's reads of the alerts it has not cached, ADR 0013 and 0026).
for (const pragma of pragmas) db.exec(`PRAGMA ${pragma}`)

const MAX_PREPARED = 256
const prepared = new Map()
function statementFor(text) {
  let st = prepared.get(text)
  if (!st) {
    if (prepared.size >= MAX_PREPARED) prepared.clear()
    prepared.set(text, (st = db.prepare(text)))
  }
  return st
}

// The epoch: counts what may have made a cache of the database taken before it wrong: a commit
// by any other connection (seen as a new `data_version` when a transaction begins) and a
// transaction of this thread rolled back. A transaction sent with the epoch its sender knew
// (`epoch`) is refused, untouched, when the epoch has moved on since (see db/txn-thread.ts). A new
// thread starts one past what its sender knew: nothing before it was seen.
let epoch = workerData.epoch
let lastVersion
const dataVersion = db.prepare('PRAGMA data_version').raw(true)

parentPort.on('message', (msg) => {
  if (msg.close) {
    prepared.clear()
    db.close()
    parentPort.close()
    return
  }
  const { id, statements } = msg
  // A read (the alert intake's rows not cached): on this connection, whose page cache its own
  // commits leave warm, behind every transaction sent before it.
  if (msg.read) {
    try {
      const rows = statementFor(msg.read.sql).raw(true).all(msg.read.args)
      parentPort.postMessage({ id, epoch, rows })
    } catch (e) {
      parentPort.postMessage({ id, epoch, error: { message: String(e?.message ?? e), code: e?.code } })
    }
    return
  }
  if (lockHeld()) {
    const error = { message: 'database is locked by another process: writes are refused until it lets go' }
    parentPort.postMessage({ id, epoch, error: { ...error, code: 'SQLITE_BUSY' } })
    return
  }
  const started = performance.now()
  try {
    db.exec('BEGIN IMMEDIATE')
    try {
      const version = dataVersion.get()[0]
      if (lastVersion !== undefined && version !== lastVersion) epoch++
      lastVersion = version
      // The epoch moved on: a transaction with a fallback checks what the epoch vouched for instead
      // (the check fails the transaction if any of it changed); without one it is refused.
      if (msg.epoch !== undefined && msg.epoch < epoch && msg.fallback)
        statementFor(msg.fallback.sql).raw(true).all(msg.fallback.args)
      else if (msg.epoch !== undefined && msg.epoch < epoch) {
        db.exec('ROLLBACK')
        parentPort.postMessage({
          id,
          epoch,
          error: {
            message: 'stale alert cache: the database changed since the transaction was made',
            code: 'STALE_EPOCH',
          },
        })
        return
      }
      for (const s of statements) {
        const st = statementFor(s.sql)
        // A statement that returns rows (a check that fails by raising an error) is stepped through.
        if (st.reader) st.raw(true).all(s.args)
        // One prepared statement run once per row (cheaper than spreading a JSON array in SQL).
        else if (s.rows) for (const row of typeof s.rows === 'string' ? JSON.parse(s.rows) : s.rows) st.run(row)
        else st.run(s.args)
      }
      db.exec('COMMIT')
    } catch (e) {
      if (db.inTransaction) db.exec('ROLLBACK')
      epoch++
      throw e
    }
    parentPort.postMessage({ id, epoch })
  } catch (e) {
    const waitedMs = performance.now() - started
    noteLockFailure(e, waitedMs)
    parentPort.postMessage({ id, epoch, waitedMs, error: { message: String(e?.message ?? e), code: e?.code } })
  }
})

// The thread behind `openTransactionThread` (db/txn-thread.ts): its own connection to the database file,
// which runs each transaction it is sent (BEGIN IMMEDIATE … COMMIT, statements prepared once per
// SQL text) and answers once it is committed, or with the error that rolled it back.
// Plain JavaScript so that Node (tests), Bun and Deno all load it without a TypeScript loader.
import { parentPort, workerData } from 'node:worker_threads'
import Database from 'libsql'

const { path, pragmas } = workerData
const db = new Database(path)
for (const pragma of pragmas) db.exec(`PRAGMA ${pragma}`)
// SQLite's own page cache size (2 MB): a 16 MB one, as the main connection has for the metrics
// rollups, was 16 MB more resident under alert intake and no faster there.

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

parentPort.on('message', (msg) => {
  if (msg.close) {
    prepared.clear()
    db.close()
    parentPort.close()
    return
  }
  const { id, statements } = msg
  try {
    db.exec('BEGIN IMMEDIATE')
    try {
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
      throw e
    }
    parentPort.postMessage({ id })
  } catch (e) {
    parentPort.postMessage({ id, error: { message: String(e?.message ?? e), code: e?.code } })
  }
})

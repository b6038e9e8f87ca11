// The SQLite work of snapshots on a thread of its own (snapshots/sqlite.ts): `VACUUM INTO` a copy of
// the live database then checking that copy (integrity check, row counts), and opening a restored
// copy to check it the same way. Both read every
// page of the file; on the request thread they would stall every request for seconds on a large
// database. Plain JavaScript so that Node (tests), Bun and Deno all load it without a TypeScript loader.
import { parentPort, workerData } from 'node:worker_threads'
import Database from 'libsql'

/** Rows per table, and the migrations applied, of the database file at `path`. */
function inspect(path, integrity) {
  const db = new Database(path, { readonly: true })
  try {
    let problems = []
    if (integrity) {
      const rows = db.prepare('PRAGMA integrity_check').raw(true).all()
      problems = rows.map((r) => String(r[0])).filter((s) => s !== 'ok')
    }
    const tables = db
      .prepare("select name from sqlite_master where type = 'table' and name not like 'sqlite_%' order by name")
      .raw(true)
      .all()
      .map((r) => String(r[0]))
    const rowCounts = {}
    // Table names come from sqlite_master, not from a caller; an identifier cannot be a parameter.
    for (const name of tables)
      rowCounts[name] = Number(
        db
          .prepare(`select count(*) from "${name.replaceAll('"', '""')}"`)
          .raw(true)
          .get()[0],
      )
    let schemaVersion = 0
    let lastMigration = null
    if (tables.includes('__drizzle_migrations')) {
      const row = db
        .prepare(
          'select count(*), (select hash from __drizzle_migrations order by created_at desc, id desc limit 1) from __drizzle_migrations',
        )
        .raw(true)
        .get()
      schemaVersion = Number(row[0])
      lastMigration = row[1] == null ? null : String(row[1])
    }
    return { problems, rowCounts, schemaVersion, lastMigration }
  } finally {
    db.close()
  }
}

function run(msg) {
  if (msg.op === 'snapshot') {
    const db = new Database(msg.source)
    try {
      db.exec('PRAGMA busy_timeout=5000')
      // VACUUM INTO writes its output with this connection's synchronous setting. The output is a
      // scratch file, removed once compressed; the backup's durability is the destination's fsync.
      db.exec('PRAGMA synchronous=OFF')
      // One read transaction over the whole file: a consistent copy while other connections write.
      db.prepare('VACUUM INTO ?').run([msg.target])
    } finally {
      db.close()
    }
    // The copy is complete: the caller starts compressing it while this thread checks it (in parallel,
    // on two cores), so the check costs no time of its own on the way to a verified backup.
    parentPort.postMessage({ copied: true })
    return inspect(msg.target, true)
  }
  if (msg.op === 'inspect') return inspect(msg.path, true)
  throw new Error(`unknown operation ${msg.op}`)
}

try {
  parentPort.postMessage({ ok: true, result: run(workerData) })
} catch (error) {
  parentPort.postMessage({ ok: false, error: error instanceof Error ? error.message : String(error) })
}

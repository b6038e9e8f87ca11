import type { InStatement, ResultSet, Row } from '@libsql/client'
import Database from 'libsql'

/**
 * The connection the client's selects run on (db/client.ts `gated`), with each statement prepared
 * once per SQL text. @libsql/client prepares every statement anew and asks it for its columns
 * twice: on a dashboard fragment that was the largest part of the CPU (issue 24: `js_prepare_sync`
 * 14 % and `js_columns` 6 % of the component overview's samples). What it answers is what the
 * client answers: a result set whose rows have the values by index (not enumerable, with a length:
 * Drizzle reads them so) and by column name (enumerable: spreads and `Object.entries` see names
 * only), integers as numbers (a RangeError beyond 2^53, as the client's `intMode: 'number'`), blobs
 * as ArrayBuffers. Anything it is not sure of it leaves to the client: a statement other than a
 * plain `select`, named arguments, an argument the client would convert or refuse, and any error
 * (so the caller sees the client's own error, codes and all).
 */
export type Reader = {
  /** The select's result set, or undefined: the caller runs it on the client. */
  execute(stmt: InStatement): ResultSet | undefined
  close(): void
  /** While held (a restore swaps the file), nothing runs here and the connection is closed. */
  hold(on: boolean): void
}

// Enough for every select text the app builds on its hot paths; a full cache starts over.
const MAX_STATEMENTS = 256
const SELECT = /^\s*select\b/i

type Kept = { st: Database.Statement; proto: object; columns: string[]; types: string[]; names: number[] }

/** `pragmas`: the connection's settings, its page cache included (db/client.ts). */
export function openReader(path: string, opts: { pragmas: string[] }): Reader {
  let conn: Database.Database | undefined
  let closed = false
  let held = false
  const kept = new Map<string, Kept>()
  const open = () => {
    const c = new Database(path)
    for (const pragma of opts.pragmas) c.exec(`PRAGMA ${pragma}`)
    return c
  }
  const keep = (c: Database.Database, sql: string): Kept => {
    let k = kept.get(sql)
    if (k) return k
    if (kept.size >= MAX_STATEMENTS) kept.clear()
    const st = c.prepare(sql)
    st.safeIntegers(true)
    st.raw(true)
    const described = st.columns() as { name: string; type: string | null }[]
    const columns = described.map((col) => col.name)
    const types = described.map((col) => col.type ?? '')
    // The row's shape: by index through the prototype, by name as own properties (the first of
    // columns sharing a name wins, as in the client).
    const proto = Object.create(Object.prototype, {
      length: { value: columns.length },
      ...Object.fromEntries(columns.map((_, i) => [i, { get: valueAt(i) }])),
    })
    const names: number[] = []
    const seen = new Set<string>()
    columns.forEach((name, i) => {
      if (!seen.has(name)) names.push(i)
      seen.add(name)
    })
    kept.set(sql, (k = { st, proto, columns, types, names }))
    return k
  }
  return {
    execute(stmt) {
      if (closed || held) return undefined
      const sql = typeof stmt === 'string' ? stmt : stmt.sql
      if (!SELECT.test(sql)) return undefined
      const args = typeof stmt === 'string' ? [] : toArgs(stmt.args)
      if (!args) return undefined
      try {
        const k = keep((conn ??= open()), sql)
        const raw = k.st.all(args) as unknown[][]
        const rows = raw.map((values) => toRow(k, values))
        return resultSet(k.columns, k.types, rows)
      } catch {
        return undefined // the client runs it again and throws its own error, if there is one
      }
    },
    close() {
      closed = true
      kept.clear()
      conn?.close()
      conn = undefined
    },
    hold(on) {
      held = on
      kept.clear()
      conn?.close()
      conn = undefined
    },
  }
}

const VALUES = Symbol('values')

function valueAt(i: number) {
  return function (this: { [VALUES]: unknown[] }) {
    return this[VALUES][i]
  }
}

function toRow(k: Kept, values: unknown[]): Row {
  for (let i = 0; i < values.length; i++) values[i] = fromSql(values[i])
  const row = Object.create(k.proto) as Record<string | symbol, unknown>
  Object.defineProperty(row, VALUES, { value: values })
  for (const i of k.names) row[k.columns[i]!] = values[i]
  return row as unknown as Row
}

const MIN_SAFE = BigInt(Number.MIN_SAFE_INTEGER)
const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER)

function fromSql(v: unknown) {
  if (typeof v === 'bigint') {
    if (v < MIN_SAFE || v > MAX_SAFE)
      throw new RangeError('Received integer which cannot be safely represented as a JavaScript number')
    return Number(v)
  }
  if (v instanceof Buffer) return v.buffer
  return v
}

/** Positional arguments the statement takes as they are, or undefined (the client converts them). */
function toArgs(args: unknown): unknown[] | undefined {
  if (args === undefined) return []
  if (!Array.isArray(args)) return undefined
  for (const a of args) {
    const t = typeof a
    if (t === 'string' || a === null) continue
    if (t === 'number' && Number.isFinite(a)) continue
    if (a instanceof Uint8Array) continue
    return undefined
  }
  return args
}

function resultSet(columns: string[], columnTypes: string[], rows: Row[]): ResultSet {
  return {
    columns,
    columnTypes,
    rows,
    rowsAffected: 0,
    lastInsertRowid: undefined,
    toJSON: () => ({ columns, columnTypes, rows: rows.map((r) => ({ ...r })), rowsAffected: 0, lastInsertRowid: null }),
  }
}

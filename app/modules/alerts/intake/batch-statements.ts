/**
 * The statements of the alerts' group commit (lifecycle-batch.ts), as SQL text and arguments for
 * `writeTransaction`: each shape's text is built once and never depends on the number of rows, so
 * the transaction thread prepares it once. Narrow rows travel as one JSON parameter spread by
 * `json_each`; the alerts' wide rows as one prepared insert run per row (measured cheaper each way).
 */
import { getTableColumns, getTableName } from 'drizzle-orm'
import type { SQLiteTable } from 'drizzle-orm/sqlite-core'
import type { TxnStatement } from '../../../../db/txn-thread.ts'
import type { TableRow } from '../lifecycle/lifecycle.ts'

// The SQL text of each statement shape, built once (the texts never depend on the number of rows).
// Module-level on purpose: a pure memo of text made from the schema's constants (table and column
// names), the same for every service and database, so it holds no state of anyone's.
const texts = new Map<string, string>()
const textFor = (key: string, build: () => string) => texts.get(key) ?? (texts.set(key, build()), texts.get(key)!)
const ident = (name: string) => `"${name.replace(/"/g, '""')}"`
const driverRow = <T extends SQLiteTable>(table: T, keys: string[], row: Record<string, unknown>) => {
  const columns = getTableColumns(table)
  return keys.map((k) => {
    const v = row[k]
    return v === null || v === undefined ? null : columns[k]!.mapToDriverValue(v)
  })
}

/**
 * Inserts rows in one statement with ONE parameter: the rows as a JSON array of arrays (each value
 * as the driver stores it), spread by `json_each`; the SQL text is the same whatever the number of
 * rows. For narrow rows (events, audit): measured cheaper than running a statement per row.
 */
export function insertJson<T extends SQLiteTable>(
  table: T,
  keys: (keyof T['$inferInsert'] & string)[],
  rows: T['$inferInsert'][],
): TxnStatement {
  const name = getTableName(table)
  const sql = textFor(`insert-json\u0000${name}\u0000${keys.join(',')}`, () => {
    const columns = getTableColumns(table)
    const values = keys.map((_, i) => `json_extract(value, '$[${i}]')`).join(', ')
    return `insert into ${ident(name)} (${keys.map((k) => ident(columns[k]!.name)).join(', ')}) select ${values} from json_each(?) where true`
  })
  return { sql, args: [JSON.stringify(rows.map((row) => driverRow(table, keys, row as Record<string, unknown>)))] }
}

/** Inserts rows: one prepared statement run once per row (wide rows, the alerts': measured cheaper than `insertJson`). */
export function insertRowsOf<T extends SQLiteTable>(
  table: T,
  keys: (keyof T['$inferInsert'] & string)[],
  rows: T['$inferInsert'][],
): TxnStatement {
  const name = getTableName(table)
  const sql = textFor(`insert\u0000${name}\u0000${keys.join(',')}`, () => {
    const columns = getTableColumns(table)
    return `insert into ${ident(name)} (${keys.map((k) => ident(columns[k]!.name)).join(', ')}) values (${keys.map(() => '?').join(', ')})`
  })
  const values = rows.map((row) => driverRow(table, keys, row as Record<string, unknown>) as TxnStatement['args'])
  return { sql, args: [], rows: values.every((r) => r.every(isJsonValue)) ? JSON.stringify(values) : values }
}
const isJsonValue = (v: unknown) => v === null || typeof v === 'string' || (typeof v === 'number' && Number.isFinite(v))

/**
 * Updates rows by id, setting `keys` from each row, in one statement with ONE parameter: the rows as
 * a JSON array of arrays, spread by `json_each` (the SQL text is the same whatever the number of rows).
 */
export function updateJson<T extends SQLiteTable>(
  table: T,
  keys: (keyof T['$inferSelect'] & string)[],
  rows: T['$inferSelect'][],
): TxnStatement {
  const name = getTableName(table)
  const sql = textFor(`update\u0000${name}\u0000${keys.join(',')}`, () => {
    const columns = getTableColumns(table)
    const values = [0, ...keys.map((_, i) => i + 1)].map((i) => `json_extract(value, '$[${i}]') as c${i}`).join(', ')
    const set = keys.map((k, i) => `${ident(columns[k]!.name)} = v.c${i + 1}`).join(', ')
    return `with v as (select ${values} from json_each(?)) update ${ident(name)} set ${set} from v where ${ident(name)}.id = v.c0`
  })
  return {
    sql,
    args: [
      JSON.stringify(
        rows.map((row) => [
          (row as Record<string, unknown>).id,
          ...driverRow(table, keys, row as Record<string, unknown>),
        ]),
      ),
    ],
  }
}

/** Rows of other tables (an audit row per delivery): one insert per table and set of columns. */
export function insertRows(rows: TableRow[]) {
  const byShape = new Map<string, TableRow[]>()
  for (const r of rows) {
    const shape = `${getTableName(r.table)}\u0000${Object.keys(r.row).join(',')}`
    byShape.get(shape)?.push(r) ?? byShape.set(shape, [r])
  }
  return [...byShape.values()].map((list) =>
    insertJson(
      list[0]!.table,
      Object.keys(list[0]!.row) as never[],
      list.map((r) => r.row),
    ),
  )
}

// Quiet repeats: added to the alert's pending repeats (see `alertRepeats`).
export const REPEATS = `insert into alert_repeats (alert_id, n, last_seen_at, updated_at)
  select json_extract(value, '$[0]'), json_extract(value, '$[1]'), json_extract(value, '$[2]'), json_extract(value, '$[3]') from json_each(?) where true
  on conflict (alert_id) do update set n = n + excluded.n, last_seen_at = max(last_seen_at, excluded.last_seen_at), updated_at = max(updated_at, excluded.updated_at)`
// Rows written whole by a change: their pending repeats are in them now.
export const FOLDED = 'delete from alert_repeats where alert_id in (select value from json_each(?))'

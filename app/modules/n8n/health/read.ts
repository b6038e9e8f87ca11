/**
 * Reads an instance's executions incrementally. n8n lists executions newest first (by id, which
 * only grows) and pages older by cursor, so a poll reads pages until it reaches what it has seen:
 * the watermark (the highest id read), or the oldest id still pending. Pending ids are those at or
 * below the watermark not yet seen finished: running ones (n8n's list leaves them out), waiting
 * ones, and gaps in the ids. With nothing new and nothing pending a poll costs one request.
 */
import type { N8nClient, N8nExecution } from '../api/client.ts'
import { UNFINISHED } from './state.ts'

export type ReadOptions = {
  pageSize: number
  /** On the first poll of an instance, executions that started before this are not read. */
  backfillFrom: number
  /** A pending id not seen finished after this long is given up (deleted, or never listed). */
  pendingMaxAgeMs: number
  maxPending: number
}

export type ReadResult = {
  /** Executions new since the last poll, and pending ones now seen (finished or not). */
  items: N8nExecution[]
  watermark: number
  pending: Record<string, number>
  pages: number
}

export async function readExecutions(
  client: Pick<N8nClient, 'executions'>,
  state: { watermark: number; pending: Record<string, number> },
  now: number,
  o: ReadOptions,
): Promise<ReadResult> {
  const first = state.watermark === 0
  const pendingIds = Object.keys(state.pending).map(Number)
  const floor = pendingIds.length ? Math.min(state.watermark, ...pendingIds) : state.watermark
  const items: N8nExecution[] = []
  let cursor: string | null = null
  let pages = 0
  let top = state.watermark
  for (;;) {
    const page = await client.executions({ cursor, limit: o.pageSize })
    pages++
    let low = Number.POSITIVE_INFINITY
    let old = false
    for (const e of page.items) {
      const id = Number(e.id)
      if (!Number.isSafeInteger(id)) continue
      low = Math.min(low, id)
      if (first && e.startedAt !== null && e.startedAt < o.backfillFrom) {
        old = true
        continue
      }
      if (id > state.watermark || state.pending[e.id] !== undefined) items.push(e)
      top = Math.max(top, id)
    }
    cursor = page.nextCursor
    if (!cursor || !page.items.length || low <= floor || old) break
  }

  const pending: Record<string, number> = {}
  for (const [id, since] of Object.entries(state.pending)) if (now - since < o.pendingMaxAgeMs) pending[id] = since
  const seen = new Set<number>()
  for (const e of items) {
    seen.add(Number(e.id))
    if (UNFINISHED.has(e.status)) pending[e.id] ??= now
    else delete pending[e.id]
  }
  // Ids skipped between the old and the new watermark: executions still running when listed.
  if (!first && top - state.watermark <= o.maxPending)
    for (let id = state.watermark + 1; id < top; id++) if (!seen.has(id)) pending[String(id)] ??= now
  const keep = Object.keys(pending)
    .map(Number)
    .sort((a, b) => b - a)
    .slice(0, o.maxPending)
  return {
    items,
    watermark: top,
    pending: Object.fromEntries(keep.map((id) => [String(id), pending[String(id)]!])),
    pages,
  }
}

/**
 * Deploy progress in this process: each running deployment's events, kept (capped) so a listener
 * that arrives late (the dashboard's server-sent events opened after the deploy button's answer)
 * still sees every line from the start. Made once per registry service; finished runs are dropped
 * after a while, and the database keeps the outcome.
 */
export type ProgressEvent =
  | { type: 'status'; status: string; completed?: number; total?: number; digest?: string }
  | { type: 'done'; deployment: Record<string, unknown> }
  | { type: 'failed'; error: string; deployment: Record<string, unknown> }

type Run = { events: ProgressEvent[]; listeners: Set<(e: ProgressEvent) => void>; done: boolean; endedAt: number }

const MAX_EVENTS = 2000
const KEEP_FINISHED_MS = 10 * 60_000
const MAX_RUNS = 500

export function createProgressHub() {
  const runs = new Map<string, Run>()

  function prune(now: number) {
    for (const [id, r] of runs)
      if (r.done && (now - r.endedAt > KEEP_FINISHED_MS || runs.size > MAX_RUNS)) runs.delete(id)
  }

  function open(id: string) {
    prune(Date.now())
    runs.set(id, { events: [], listeners: new Set(), done: false, endedAt: 0 })
  }

  function emit(id: string, e: ProgressEvent) {
    const r = runs.get(id)
    if (!r || r.done) return
    // A long create repeats "pulling …" lines: the newest are what matter, the first few say how it began.
    if (r.events.length >= MAX_EVENTS) r.events.splice(10, 1)
    r.events.push(e)
    if (e.type !== 'status') {
      r.done = true
      r.endedAt = Date.now()
    }
    for (const l of r.listeners) l(e)
  }

  /** Every event of the run so far, then each new one until it ends. Empty for a run this process does not know. */
  async function* follow(id: string, signal?: AbortSignal): AsyncGenerator<ProgressEvent> {
    const r = runs.get(id)
    if (!r) return
    const queue: ProgressEvent[] = [...r.events]
    let wake: (() => void) | undefined
    const listener = (e: ProgressEvent) => {
      queue.push(e)
      wake?.()
    }
    const onAbort = () => wake?.()
    r.listeners.add(listener)
    signal?.addEventListener('abort', onAbort)
    try {
      for (;;) {
        while (queue.length) {
          const e = queue.shift()!
          yield e
          if (e.type !== 'status') return
        }
        if (signal?.aborted || (r.done && !queue.length)) return
        await new Promise<void>((resolve) => {
          wake = resolve
        })
        wake = undefined
      }
    } finally {
      r.listeners.delete(listener)
      signal?.removeEventListener('abort', onAbort)
    }
  }

  return { open, emit, follow, has: (id: string) => runs.has(id) }
}

export type ProgressHub = ReturnType<typeof createProgressHub>

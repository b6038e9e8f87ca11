import { describe, expect, it } from 'vitest'
import { PROGRESS_EVERY_MS, throttledProgress } from '../../app/modules/backups/snapshots/progress.ts'

async function* chunks(n: number, size: number, tick: () => void) {
  for (let i = 0; i < n; i++) {
    tick()
    yield new Uint8Array(size)
  }
}

describe('backup progress', () => {
  it('writes a phase at once, then bytes at most every 500 ms of the clock, and the total at the end', async () => {
    let now = 0
    const writes: { phase?: string; bytesDone: number }[] = []
    const p = throttledProgress(
      async (set) => void writes.push(set),
      () => now,
    )
    p.phase('snapshot')
    // 1 000 chunks in 10 ms steps: 10 s of streaming is about 20 writes, not 1 000.
    for await (const _ of p.count(
      chunks(1000, 1024, () => (now += 10)),
      'upload',
    ));
    await p.flush()
    expect(writes[0]).toEqual({ phase: 'snapshot', bytesDone: 0 })
    expect(writes[1]).toEqual({ phase: 'upload', bytesDone: 0 })
    expect(writes.at(-1)).toEqual({ phase: 'upload', bytesDone: 1000 * 1024 })
    expect(writes.length).toBeLessThanOrEqual(2 + (1000 * 10) / PROGRESS_EVERY_MS + 1)
    expect(writes.length).toBeGreaterThan(10)
    const done = writes.map((w) => w.bytesDone)
    expect(done.slice(1)).toEqual([...done.slice(1)].sort((a, b) => a - b))
  })

  it('a failing write does not fail the stream', async () => {
    const p = throttledProgress(async () => {
      throw new Error('database closed')
    })
    p.phase('verify')
    let n = 0
    for await (const chunk of p.count(chunks(3, 10, () => {}))) n += chunk.byteLength
    await p.flush()
    expect(n).toBe(30)
  })
})

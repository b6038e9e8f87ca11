import { describe, expect, it } from 'vitest'
import { createStatusCache } from '../../app/modules/status-pages/cache.ts'

/** A cache over a fake clock and a loader that counts its builds and can be held open. */
function setup() {
  let now = 1_000
  let builds = 0
  let fail = false
  let gate: Promise<void> | undefined
  const cache = createStatusCache<{ n: number; slug: string }>({
    ttlMs: 10_000,
    now: () => now,
    fingerprint: (v) => JSON.stringify(v),
    load: async (slug) => {
      const n = ++builds
      await gate
      if (fail) throw new Error('database gone')
      return slug === 'none' ? null : { view: { n, slug }, pageId: `p-${slug}`, componentIds: [`c-${slug}`] }
    },
  })
  return {
    cache,
    builds: () => builds,
    tick: (ms: number) => void (now += ms),
    hold: () => {
      let open!: () => void
      gate = new Promise((r) => (open = r))
      return () => {
        gate = undefined
        open()
      }
    },
    failing: (on: boolean) => void (fail = on),
  }
}
const flush = () => new Promise((r) => setTimeout(r, 0))

describe('the status pages cache', () => {
  it('builds a slug once for a burst, and renders each format once', async () => {
    const s = setup()
    const hits = await Promise.all(Array.from({ length: 50 }, () => s.cache.get('a')))
    expect(s.builds()).toBe(1)
    let renders = 0
    const make = (v: { n: number }) => (renders++, `body ${v.n}`)
    const etags = hits.map((h) => h!.render('html', make).etag)
    expect(renders).toBe(1)
    expect(new Set(etags).size).toBe(1)
    expect(hits[0]!.render('json', make).etag).not.toBe(etags[0])
  })

  it('remembers an unknown slug too, and a failed first build is not kept', async () => {
    const s = setup()
    expect(await s.cache.get('none')).toBeNull()
    expect(await s.cache.get('none')).toBeNull()
    expect(s.builds()).toBe(1)
    s.failing(true)
    await expect(s.cache.get('b')).rejects.toThrow('database gone')
    s.failing(false)
    expect((await s.cache.get('b'))!.view.slug).toBe('b')
  })

  it('after its life, serves the old answer while the next one builds, then the new one', async () => {
    const s = setup()
    expect((await s.cache.get('a'))!.view.n).toBe(1)
    s.tick(10_001)
    const open = s.hold()
    // The rebuild is running and held: visitors get the old view without waiting.
    expect((await s.cache.get('a'))!.view.n).toBe(1)
    expect((await s.cache.get('a'))!.view.n).toBe(1)
    expect(s.builds()).toBe(2)
    open()
    await flush()
    expect((await s.cache.get('a'))!.view.n).toBe(2)
    // A failed rebuild keeps the old answer, and the next visitor tries again.
    s.tick(10_001)
    s.failing(true)
    expect((await s.cache.get('a'))!.view.n).toBe(2)
    await flush()
    s.failing(false)
    expect((await s.cache.get('a'))!.view.n).toBe(2)
    await flush()
    expect((await s.cache.get('a'))!.view.n).toBe(4)
  })

  it('an invalidation is seen at once: the next visitor waits for a fresh build', async () => {
    const s = setup()
    await s.cache.get('a')
    await s.cache.get('b')
    s.cache.invalidatePage('p-a')
    expect((await s.cache.get('a'))!.view.n).toBe(3)
    expect((await s.cache.get('b'))!.view.n).toBe(2)
    s.cache.invalidateComponent('c-b')
    expect((await s.cache.get('b'))!.view.n).toBe(4)
    s.cache.invalidateComponent('c-other')
    expect(s.cache.size).toBe(2)
    s.cache.invalidateAll()
    expect(s.cache.size).toBe(0)
  })

  it('keeps the ETag when a rebuild finds the same content', async () => {
    const cache = createStatusCache<{ at: number; text: string }>({
      ttlMs: 10_000,
      now: () => 0,
      fingerprint: (v) => v.text,
      load: async () => ({ view: { at: Math.random(), text: 'same' }, pageId: 'p', componentIds: [] }),
    })
    const first = (await cache.get('a'))!.render('html', (v) => `${v.at}`)
    cache.invalidateAll()
    const second = (await cache.get('a'))!.render('html', (v) => `${v.at}`)
    expect(second.body).not.toBe(first.body)
    expect(second.etag).toBe(first.etag)
  })

  it('a check that finds the same content keeps the rendered answers, until they are a minute old', async () => {
    let now = 0
    let builds = 0
    const cache = createStatusCache<{ n: number; text: string }>({
      ttlMs: 10_000,
      now: () => now,
      fingerprint: (v) => v.text,
      load: async () => ({ view: { n: ++builds, text: 'same' }, pageId: 'p', componentIds: ['c'] }),
    })
    let renders = 0
    const make = (v: { n: number }) => (renders++, `as of build ${v.n}`)
    const first = (await cache.get('a'))!.render('html', make)
    for (const [i, at] of [10_001, 20_002, 30_003].entries()) {
      now = at
      await cache.get('a') // starts the check
      await flush()
      expect(builds).toBe(i + 2)
      expect(cache.checking('a')).toBe(false)
      expect((await cache.get('a'))!.render('html', make)).toBe(first)
    }
    expect(builds).toBe(4)
    expect(renders).toBe(1)
    // Past refreshMs (60 s from the first build) the check's view is taken: rendered again, same ETag.
    now = 60_001
    await cache.get('a')
    await flush()
    const later = (await cache.get('a'))!.render('html', make)
    expect(later.body).toBe('as of build 5')
    expect(later.etag).toBe(first.etag)
    expect(renders).toBe(2)
  })

  it('a check that finds other content or other components replaces the entry', async () => {
    let now = 0
    let text = 'one'
    let componentIds = ['c1']
    const cache = createStatusCache<{ text: string }>({
      ttlMs: 10_000,
      now: () => now,
      fingerprint: (v) => v.text,
      load: async () => ({ view: { text }, pageId: 'p', componentIds }),
    })
    const make = (v: { text: string }) => v.text
    const first = (await cache.get('a'))!.render('html', make)
    text = 'two'
    now = 10_001
    await cache.get('a')
    await flush()
    const second = (await cache.get('a'))!.render('html', make)
    expect(second.body).toBe('two')
    expect(second.etag).not.toBe(first.etag)
    // Same text, another component: the entry must follow it (a later change of c2 has to drop it).
    componentIds = ['c2']
    now = 20_002
    await cache.get('a')
    await flush()
    cache.invalidateComponent('c2')
    expect(cache.size).toBe(0)
  })
})

import { describe, expect, it } from 'vitest'
import { createChangeFeed, type LiveEvent } from '../../app/modules/live/index.ts'

const flushed = (feed: ReturnType<typeof createChangeFeed>) =>
  new Promise<readonly LiveEvent[]>((resolve) => {
    const stop = feed.subscribe((events) => {
      stop()
      resolve(events)
    })
  })

describe('the change feed', () => {
  it('merges announcements per topic into one flush, ids once each', async () => {
    const feed = createChangeFeed({ flushMs: 1 })
    const got = flushed(feed)
    feed.publish('alerts', ['a1'])
    feed.publish('alerts', ['a2', 'a1'])
    feed.publish('healing', ['h1'])
    expect(await got).toEqual([
      { topic: 'alerts', ids: ['a1', 'a2'], more: false },
      { topic: 'healing', ids: ['h1'], more: false },
    ])
  })

  it('keeps at most maxIds ids and says there were more', async () => {
    const feed = createChangeFeed({ flushMs: 1, maxIds: 3 })
    const got = flushed(feed)
    feed.publish('metrics', ['m1', 'm2', 'm3', 'm4', 'm5'])
    expect(await got).toEqual([{ topic: 'metrics', ids: ['m1', 'm2', 'm3'], more: true }])
  })

  it('drops what is published while nobody listens (the usual server with no tab open)', async () => {
    const feed = createChangeFeed({ flushMs: 1 })
    feed.publish('alerts', ['before'])
    const got = flushed(feed)
    feed.publish('runs', ['after'])
    expect(await got).toEqual([{ topic: 'runs', ids: ['after'], more: false }])
  })

  it('tells every listener even when one throws, and stops telling one that left', async () => {
    const feed = createChangeFeed({ flushMs: 1 })
    const heard: string[] = []
    feed.subscribe(() => {
      throw new Error('a closed stream')
    })
    const stop = feed.subscribe((events) => heard.push(...events.map((e) => `first:${e.topic}`)))
    const got = flushed(feed)
    feed.publish('backups', ['b1'])
    await got
    stop()
    expect(feed.listeners).toBe(1)
    const again = flushed(feed)
    feed.publish('n8n', ['w1'])
    await again
    expect(heard).toEqual(['first:backups'])
  })
})

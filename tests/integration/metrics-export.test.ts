import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { runRollups } from '../../app/modules/metrics/rollup.ts'
import { createMetricStore, type Sample } from '../../app/modules/metrics/store.ts'
import { testApp, type TestApp } from '../helpers/app.ts'

const T0 = Date.parse('2026-11-20T00:00:00Z')
const H = 3_600_000

let t: TestApp
let headers: Record<string, string>
beforeEach(async () => {
  t = await testApp()
  headers = (await t.key('viewer')).headers
})
afterEach(() => t.close())

/** RFC 4180: quoted fields may hold commas, doubled quotes and line breaks; records end in CRLF. */
function parseCsv(text: string): string[][] {
  const rows: string[][] = []
  let row: string[] = []
  let field = ''
  let quoted = false
  for (let i = 0; i < text.length; i++) {
    const ch = text[i]!
    if (quoted) {
      if (ch === '"' && text[i + 1] === '"') (field += '"'), i++
      else if (ch === '"') quoted = false
      else field += ch
    } else if (ch === '"' && field === '') quoted = true
    else if (ch === ',') row.push(field), (field = '')
    else if (ch === '\r' && text[i + 1] === '\n') row.push(field), rows.push(row), (row = []), (field = ''), i++
    else if (ch === '"' || ch === '\n' || ch === '\r') throw new Error(`bare ${JSON.stringify(ch)} at ${i}`)
    else field += ch
  }
  if (field !== '' || row.length) throw new Error('last record does not end in CRLF')
  return rows
}

const get = (query: string) => t.app.request(`/api/v1/metrics/export?${query}`, { headers })

type JsonRow = { time: string; name: string; labels: Record<string, string>; value: number }

describe('GET /api/v1/metrics/export, raw', () => {
  it('CSV has one column per label, quoted per RFC 4180, with the file named', async () => {
    await createMetricStore(t.db).write(
      [
        {
          name: 'prompt_score',
          labels: { prompt: 'say "hi", then\r\nleave', version: 'v1' },
          value: 0.5,
          ts: T0 + 1000,
        },
        {
          name: 'prompt_score',
          labels: { prompt: 'say "hi", then\r\nleave', version: 'v1' },
          value: 0.75,
          ts: T0 + 2000,
        },
        { name: 'prompt_score', labels: { prompt: 'plain', tag: 'a;b=c' }, value: -3, ts: T0 + 1500 },
        { name: 'prompt_score', labels: { name: 'clash', prompt: 'plain' }, value: 1e-7, ts: T0 + 1600 },
        { name: 'prompt_score', labels: { prompt: 'plain' }, value: 9, ts: T0 + H }, // outside [from, to)
      ],
      T0,
    )
    const res = await get(`format=csv&name=prompt_score&from=${T0}&to=${T0 + 60_000}`)
    expect(res.status).toBe(200)
    expect(res.headers.get('content-type')).toContain('text/csv')
    expect(res.headers.get('content-disposition')).toBe(
      'attachment; filename="prompt_score_20261120T000000Z_20261120T000100Z.csv"',
    )
    const text = await res.text()
    expect(text).toContain(',"say ""hi"", then\r\nleave",')
    const rows = parseCsv(text)
    expect(rows[0]).toEqual(['time', 'name', 'label:name', 'prompt', 'tag', 'version', 'value'])
    expect(rows.slice(1)).toEqual([
      [new Date(T0 + 1000).toISOString(), 'prompt_score', '', 'say "hi", then\r\nleave', '', 'v1', '0.5'],
      [new Date(T0 + 2000).toISOString(), 'prompt_score', '', 'say "hi", then\r\nleave', '', 'v1', '0.75'],
      [new Date(T0 + 1500).toISOString(), 'prompt_score', '', 'plain', 'a;b=c', '', '-3'],
      [new Date(T0 + 1600).toISOString(), 'prompt_score', 'clash', 'plain', '', '', '1e-7'],
    ])
  })

  it('JSON is a valid array, also when nothing matches; matchers filter', async () => {
    await createMetricStore(t.db).write(
      [
        { name: 'llm_cost_usd', labels: { model: 'a,"b"\n' }, value: 0.25, ts: T0 },
        { name: 'llm_cost_usd', labels: { model: 'c' }, value: 1, ts: T0 + 1 },
      ],
      T0,
    )
    const res = await get(
      `format=json&name=llm_cost_usd&match[model]=${encodeURIComponent('a,"b"\n')}&from=${T0}&to=${T0 + 1000}`,
    )
    expect(res.headers.get('content-type')).toContain('application/json')
    expect(res.headers.get('content-disposition')).toMatch(/^attachment; filename="llm_cost_usd_.*\.json"$/)
    expect(JSON.parse(await res.text())).toEqual([
      { time: new Date(T0).toISOString(), name: 'llm_cost_usd', labels: { model: 'a,"b"\n' }, value: 0.25 },
    ])
    for (const q of [
      `format=json&name=llm_cost_usd&from=${T0 + H}&to=${T0 + 2 * H}`,
      `format=json&name=no_such_metric`,
    ]) {
      const empty = await get(q)
      expect(empty.status).toBe(200)
      expect(JSON.parse(await empty.text())).toEqual([])
    }
    expect(await (await get(`format=csv&name=no_such_metric`)).text()).toBe('time,name,value\r\n')
  })

  it('streams: 200 000 points arrive in many chunks, produced while they are read', async () => {
    // Series a (written first, so read first) holds 196 000 points; series b 4 000.
    const store = createMetricStore(t.db)
    const all: Sample[] = []
    for (let i = 0; i < 196_000; i++) all.push({ name: 'host_cpu', labels: { host: 'a' }, value: i, ts: T0 + i * 10 })
    await store.write(all, T0)
    all.length = 0
    for (let i = 0; i < 4000; i++) all.push({ name: 'host_cpu', labels: { host: 'b' }, value: i, ts: T0 + i * 10 })
    await store.write(all, T0)

    const res = await get(`format=csv&name=host_cpu&from=${T0}&to=${T0 + 2 * H}`)
    expect(res.status).toBe(200)
    const reader = res.body!.getReader()
    const decoder = new TextDecoder()
    const first = await reader.read()
    expect(first.done).toBe(false)
    let text = decoder.decode(first.value, { stream: true })
    // While we do not read, the export must wait for us. Give it every chance not to: 300 turns of
    // the database queue, several times what reading the other 49 pages takes. Then a point written
    // to series b still shows up, so the export had not read b: it produces as it is read.
    for (let i = 0; i < 300; i++) await t.client.execute('select 1')
    await store.write([{ name: 'host_cpu', labels: { host: 'b' }, value: -1, ts: T0 + 4000 * 10 + 5 }], T0)
    let chunks = 1
    for (;;) {
      const { done, value } = await reader.read()
      if (done) break
      chunks++
      text += decoder.decode(value, { stream: true })
    }
    text += decoder.decode()
    expect(chunks).toBeGreaterThanOrEqual(40)
    const rows = parseCsv(text)
    expect(rows[0]).toEqual(['time', 'name', 'host', 'value'])
    expect(rows).toHaveLength(1 + 200_001)
    expect(rows[1]).toEqual([new Date(T0).toISOString(), 'host_cpu', 'a', '0'])
    expect(rows[196_000]).toEqual([new Date(T0 + 195_999 * 10).toISOString(), 'host_cpu', 'a', '195999'])
    expect(rows.at(-1)).toEqual([new Date(T0 + 40_005).toISOString(), 'host_cpu', 'b', '-1'])
    // Each series in time order, each point once.
    const a = rows.slice(1, 196_001).map((r) => Date.parse(r[0]!))
    expect(a.every((ts, i) => i === 0 || ts > a[i - 1]!)).toBe(true)
  })

  it('a database failure mid-stream aborts the body instead of ending it cleanly', async () => {
    const all: Sample[] = []
    for (let i = 0; i < 40_000; i++) all.push({ name: 'host_mem', labels: { host: 'a' }, value: i, ts: T0 + i })
    await createMetricStore(t.db).write(all, T0)
    const res = await get(`format=json&name=host_mem&from=${T0}&to=${T0 + H}`)
    expect(res.status).toBe(200)
    const reader = res.body!.getReader()
    expect((await reader.read()).done).toBe(false)
    t.client.close() // the database goes away between pages
    const drain = async () => {
      for (;;) if ((await reader.read()).done) return 'ended'
    }
    await expect(drain()).rejects.toThrow()
  })
})

describe('GET /api/v1/metrics/export, aggregated', () => {
  it('gives what /api/v1/metrics/query gives, from rollups, grouped with by, in CSV and JSON', async () => {
    const samples: Sample[] = []
    for (let ts = T0; ts < T0 + 3 * H; ts += 30_000) {
      for (const model of ['a', 'b'])
        for (const kind of ['prompt', 'completion'])
          samples.push({
            name: 'llm_tokens',
            labels: { model, kind },
            value: (((ts - T0) / 30_000) % 17) + (model === 'a' ? 0 : 100),
            ts,
          })
    }
    await createMetricStore(t.db).write(samples, T0 + 3 * H)
    await runRollups(t.db, T0 + 3 * H + 10 * 60_000)
    for (const agg of ['p95', 'sum']) {
      const params = `name=llm_tokens&from=${T0}&to=${T0 + 3 * H}&step=1h&agg=${agg}&by=model`
      const query = (await (await t.app.request(`/api/v1/metrics/query?${params}`, { headers })).json()) as {
        resolution: string
        series: { labels: Record<string, string>; values: [string, number][] }[]
      }
      expect(query.resolution).toBe('1h')
      const want = query.series.flatMap((s) =>
        s.values.map(([time, value]) => ({ time, name: 'llm_tokens', labels: s.labels, value })),
      )
      expect(want).toHaveLength(6)
      const json = await get(`format=json&${params}`)
      expect(json.headers.get('content-disposition')).toBe(
        `attachment; filename="llm_tokens_20261120T000000Z_20261120T030000Z_3600s_${agg}.json"`,
      )
      expect(JSON.parse(await json.text())).toEqual(want)
      const csv = parseCsv(await (await get(`format=csv&${params}`)).text())
      expect(csv[0]).toEqual(['time', 'name', 'model', 'value'])
      expect(csv.slice(1)).toEqual(want.map((w) => [w.time, w.name, w.labels.model, String(w.value)]))
    }
  })

  it('rates stay right across the chunks a long export is read in', async () => {
    // A counter rising 2 a second, one point a second for an hour: 3 600 one-second steps.
    const samples: Sample[] = []
    for (let i = 0; i < 3600; i++)
      samples.push({ name: 'agent_requests_total', labels: { agent: 'x' }, value: 2 * i, ts: T0 + i * 1000 })
    await createMetricStore(t.db).write(samples, T0)
    const params = `name=agent_requests_total&from=${T0}&to=${T0 + H}&step=1s&agg=rate`
    const query = (await (await t.app.request(`/api/v1/metrics/query?${params}`, { headers })).json()) as {
      series: { values: [string, number][] }[]
    }
    const rows = JSON.parse(await (await get(`format=json&${params}`)).text()) as JsonRow[]
    expect(rows).toHaveLength(3599) // the first step has no previous value
    expect(rows.every((r) => r.value === 2)).toBe(true)
    expect(rows.map((r) => [r.time, r.value])).toEqual(query.series[0]!.values)
  })
})

describe('GET /api/v1/metrics/export, refusals', () => {
  it('refuses bad parameters with the field named, before any byte is streamed', async () => {
    const cases: [string, string][] = [
      ['format=xml&name=x', 'format'],
      ['name=9x', 'name'],
      ['format=csv', 'name'],
      ['name=x&from=2026-01-02T00:00:00Z&to=2026-01-01T00:00:00Z', 'from'],
      ['name=x&step=500ms', 'step'],
      ['name=x&from=0&to=86400000000&step=1s', 'step'],
      ['name=x&agg=median&step=1m', 'agg'],
      ['name=x&by=model', 'by'],
      ['name=x&matchx=1', 'matchx'],
    ]
    for (const [query, field] of cases) {
      const res = await get(query)
      expect(res.status, query).toBe(400)
      expect(res.headers.get('content-type'), query).toContain('application/json')
      const body = (await res.json()) as { error: { details: { field: string }[] } }
      expect(
        body.error.details.map((d) => d.field),
        query,
      ).toContain(field)
    }
    expect((await t.app.request('/api/v1/metrics/export?name=x')).status).toBe(401)
  })
})

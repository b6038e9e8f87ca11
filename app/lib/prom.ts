/** A small Prometheus text-format registry for Homeostat's own /metrics. */
type Labels = Record<string, string>

// Runs on every request: walk the labels once, and sort only if they came out of order.
const key = (labels: Labels) => {
  let k = ''
  let prev = ''
  for (const name in labels) {
    if (name < prev) return Object.keys(labels).sort().map((n) => `${n}\u0000${labels[n]}\u0001`).join('')
    prev = name
    k += `${name}\u0000${labels[name]}\u0001`
  }
  return k
}
const escape = (s: string) => s.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"')
const fmt = (labels: Labels, extra: Labels = {}) => {
  const all = Object.entries({ ...labels, ...extra })
  return all.length ? `{${all.map(([k, v]) => `${k}="${escape(v)}"`).join(',')}}` : ''
}

type Family = { help: string; type: 'counter' | 'gauge' | 'histogram'; render: () => string[] }

export function createRegistry() {
  const families = new Map<string, Family>()

  function counter(name: string, help: string) {
    const values = new Map<string, { labels: Labels; value: number }>()
    families.set(name, { help, type: 'counter', render: () => [...values.values()].map((s) => `${name}${fmt(s.labels)} ${s.value}`) })
    return {
      inc(labels: Labels = {}, by = 1) {
        const k = key(labels)
        const s = values.get(k)
        if (s) s.value += by
        else values.set(k, { labels, value: by })
      },
      get: (labels: Labels = {}) => values.get(key(labels))?.value ?? 0,
    }
  }

  /** A gauge whose samples are read when /metrics is scraped. */
  function gauge(name: string, help: string, collect: () => { labels?: Labels; value: number }[]) {
    families.set(name, { help, type: 'gauge', render: () => collect().map((s) => `${name}${fmt(s.labels ?? {})} ${s.value}`) })
  }

  function histogram(name: string, help: string, buckets: number[]) {
    const series = new Map<string, { labels: Labels; counts: number[]; sum: number; count: number }>()
    families.set(name, {
      help,
      type: 'histogram',
      render: () =>
        [...series.values()].flatMap((s) => [
          ...buckets.map((le, i) => `${name}_bucket${fmt(s.labels, { le: String(le) })} ${s.counts[i]}`),
          `${name}_bucket${fmt(s.labels, { le: '+Inf' })} ${s.count}`,
          `${name}_sum${fmt(s.labels)} ${s.sum}`,
          `${name}_count${fmt(s.labels)} ${s.count}`,
        ]),
    })
    return {
      observe(labels: Labels, value: number) {
        const k = key(labels)
        let s = series.get(k)
        if (!s) series.set(k, (s = { labels, counts: buckets.map(() => 0), sum: 0, count: 0 }))
        for (let i = 0; i < buckets.length; i++) if (value <= buckets[i]!) s.counts[i]!++
        s.sum += value
        s.count++
      },
    }
  }

  function render(): string {
    const out: string[] = []
    for (const [name, f] of families) out.push(`# HELP ${name} ${f.help}`, `# TYPE ${name} ${f.type}`, ...f.render())
    return `${out.join('\n')}\n`
  }

  return { counter, gauge, histogram, render }
}

export type Registry = ReturnType<typeof createRegistry>

/** A small Prometheus text-format registry for Homeostat's own /metrics. */
type Labels = Record<string, string>

// Runs on every request: walk the labels once, and sort only if they came out of order.
const key = (labels: Labels) => {
  let k = ''
  let prev = ''
  for (const name in labels) {
    if (name < prev)
      return Object.keys(labels)
        .sort()
        .map((n) => `${n}\u0000${labels[n]}\u0001`)
        .join('')
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
    families.set(name, {
      help,
      type: 'counter',
      render: () => [...values.values()].map((s) => `${name}${fmt(s.labels)} ${s.value}`),
    })
    const series = (labels: Labels) => {
      const k = key(labels)
      let s = values.get(k)
      if (!s) values.set(k, (s = { labels, value: 0 }))
      return s
    }
    return {
      inc(labels: Labels = {}, by = 1) {
        series(labels).value += by
      },
      get: (labels: Labels = {}) => values.get(key(labels))?.value ?? 0,
      /** One series, for a caller that keeps it and counts on it often (no label work per call). */
      labels(labels: Labels) {
        const s = series(labels)
        return { inc: (by = 1) => void (s.value += by) }
      },
    }
  }

  /** A gauge whose samples are read when /metrics is scraped. */
  function gauge(name: string, help: string, collect: () => { labels?: Labels; value: number }[]) {
    families.set(name, {
      help,
      type: 'gauge',
      render: () => collect().map((s) => `${name}${fmt(s.labels ?? {})} ${s.value}`),
    })
  }

  function histogram(name: string, help: string, buckets: number[]) {
    // counts[i]: observations in bucket i alone (le buckets[i], above buckets[i-1]); summed when rendered.
    type Series = { labels: Labels; counts: number[]; sum: number; count: number }
    const series = new Map<string, Series>()
    const cumulative = (counts: number[]) => {
      let n = 0
      return counts.map((c) => (n += c))
    }
    const find = (labels: Labels) => {
      const k = key(labels)
      let s = series.get(k)
      if (!s) series.set(k, (s = { labels, counts: buckets.map(() => 0), sum: 0, count: 0 }))
      return s
    }
    const observe = (s: Series, value: number) => {
      let i = 0
      while (i < buckets.length && !(value <= buckets[i]!)) i++
      if (i < buckets.length) s.counts[i]!++
      s.sum += value
      s.count++
    }
    families.set(name, {
      help,
      type: 'histogram',
      render: () =>
        [...series.values()].flatMap((s) => [
          ...cumulative(s.counts).map((n, i) => `${name}_bucket${fmt(s.labels, { le: String(buckets[i]) })} ${n}`),
          `${name}_bucket${fmt(s.labels, { le: '+Inf' })} ${s.count}`,
          `${name}_sum${fmt(s.labels)} ${s.sum}`,
          `${name}_count${fmt(s.labels)} ${s.count}`,
        ]),
    })
    return {
      observe(labels: Labels, value: number) {
        observe(find(labels), value)
      },
      /** One series, for a caller that keeps it and observes on it often. */
      labels(labels: Labels) {
        const s = find(labels)
        return { observe: (value: number) => observe(s, value) }
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

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

type Family = { help: string; type: 'counter' | 'gauge' | 'histogram'; render: (name: string) => string[] }

/**
 * `deprecated`: the family's name before a rename. While the registry serves legacy names, the same
 * samples are also rendered under it, so a scraper's old queries keep working for one release
 * (docs/metrics.md#renamed-metrics).
 */
export type FamilyOptions = { deprecated?: string }
export type RegistryOptions = { legacyNames?: boolean }

export function createRegistry(registryOptions: RegistryOptions = {}) {
  const families = new Map<string, Family & { deprecated?: string }>()
  const add = (name: string, family: Family, options: FamilyOptions) =>
    families.set(name, { ...family, deprecated: options.deprecated })

  function counter(name: string, help: string, options: FamilyOptions = {}) {
    const values = new Map<string, { labels: Labels; value: number }>()
    add(
      name,
      {
        help,
        type: 'counter',
        render: (as) => [...values.values()].map((s) => `${as}${fmt(s.labels)} ${s.value}`),
      },
      options,
    )
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
  function gauge(
    name: string,
    help: string,
    collect: () => { labels?: Labels; value: number }[],
    options: FamilyOptions = {},
  ) {
    add(
      name,
      { help, type: 'gauge', render: (as) => collect().map((s) => `${as}${fmt(s.labels ?? {})} ${s.value}`) },
      options,
    )
  }

  function histogram(name: string, help: string, buckets: number[], options: FamilyOptions = {}) {
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
    add(
      name,
      {
        help,
        type: 'histogram',
        render: (as) =>
          [...series.values()].flatMap((s) => [
            ...cumulative(s.counts).map((n, i) => `${as}_bucket${fmt(s.labels, { le: String(buckets[i]) })} ${n}`),
            `${as}_bucket${fmt(s.labels, { le: '+Inf' })} ${s.count}`,
            `${as}_sum${fmt(s.labels)} ${s.sum}`,
            `${as}_count${fmt(s.labels)} ${s.count}`,
          ]),
      },
      options,
    )
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
    for (const [name, f] of families)
      out.push(`# HELP ${name} ${f.help}`, `# TYPE ${name} ${f.type}`, ...f.render(name))
    // The old names after every current one, so a reader of the current names meets them first.
    if (registryOptions.legacyNames)
      for (const [name, f] of families) {
        if (!f.deprecated) continue
        const help = `Deprecated: renamed ${name}; this name goes in the next release. ${f.help}`
        out.push(`# HELP ${f.deprecated} ${help}`, `# TYPE ${f.deprecated} ${f.type}`, ...f.render(f.deprecated))
      }
    return `${out.join('\n')}\n`
  }

  /** The families' current and deprecated names, for the docs' table and its test. */
  const names = () => [...families].map(([name, f]) => ({ name, type: f.type, deprecated: f.deprecated }))

  return { counter, gauge, histogram, render, names }
}

export type Registry = ReturnType<typeof createRegistry>

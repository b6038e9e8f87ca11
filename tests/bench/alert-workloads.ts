/**
 * The shapes of alert intake the bench offers Homeostat and Alertmanager side by side (issue 23),
 * each a generator of POST /api/v2/alerts bodies, 10 alerts a body, the same sequence for every
 * server (a seeded generator per server):
 *
 * - `bench`: the bench's first workload (`intakeBodies` in alerts.ts), its pool swept in order.
 * - `random`: Prometheus-style repeats in random order across 40 000 label sets of 8 teams: each
 *   alert of a body is drawn at random; it keeps its `startsAt` while it fires, 1 draw in 50 sends it
 *   resolved (endsAt in the past) and its next report starts a new incident. No order for a cache to
 *   follow: consecutive bodies share almost no label set.
 * - `groups`: the same draw over 2 000 alert groups (250 alert names × 8 teams, 20 label sets each),
 *   Alertmanager routing with `group_by: [alertname, team]` (its aggregation groups: one each).
 */
/** mulberry32: a small seeded generator, so each server gets the same sequence. */
export function seeded(seed: number) {
  let s = seed >>> 0
  return () => {
    s = (s + 0x6d2b79f5) >>> 0
    let t = s
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

const SEVERITIES = ['critical', 'warning', 'warning', 'info']
const TEAMS = ['payments', 'search', 'platform', 'data', 'mobile', 'web', 'ml', 'security']
/** One draw in this many sends its alert resolved. */
const RESOLVE_EVERY = 50

const alertJson = (labels: { text: string; alertname: string; instance: string }, startsAt: number, endsAt: number) =>
  `{"labels":${labels.text},"annotations":{"summary":"${labels.alertname} on ${labels.instance}","description":"Bench alert: the value crossed its threshold on ${labels.instance}."},"startsAt":"${new Date(startsAt).toISOString()}","endsAt":"${new Date(endsAt).toISOString()}","generatorURL":"http://prometheus.example:9090/graph?g0.expr=up"}`

/**
 * Bodies of alerts drawn at random from `pool` label sets, `names` alert names per team: label set
 * `i` is team `i % 8`, alert name `(i / 8) % names`, its own instance.
 */
export function randomBodies(pool: number, names: number, seed: number, perRequest = 10) {
  const rand = seeded(seed)
  const labelsOf = (i: number) => ({
    alertname: `Random${Math.floor(i / TEAMS.length) % names}`,
    team: TEAMS[i % TEAMS.length]!,
    service: `svc-${i % 97}`,
    instance: `node-${String(i).padStart(5, '0')}:9100`,
    job: 'node',
    severity: SEVERITIES[i % SEVERITIES.length]!,
  })
  const labels = Array.from({ length: pool }, (_, i) => {
    const l = labelsOf(i)
    return { text: JSON.stringify(l), alertname: l.alertname, instance: l.instance }
  })
  // When each label set's current incident started (0: not firing yet).
  const startsAt = new Float64Array(pool)
  return () => {
    const now = Date.now()
    const items: string[] = []
    for (let j = 0; j < perRequest; j++) {
      const i = Math.floor(rand() * pool)
      const l = labels[i]!
      if (!startsAt[i]) startsAt[i] = now - 1000
      if (rand() * RESOLVE_EVERY < 1) {
        items.push(alertJson(l, startsAt[i]!, now - 1))
        startsAt[i] = 0
      } else items.push(alertJson(l, startsAt[i]!, now + 300_000))
    }
    return `[${items.join(',')}]`
  }
}

export const RANDOM_POOL = 40_000
export const GROUP_NAMES = 250

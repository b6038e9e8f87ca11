/**
 * Agent metrics with hand-computable PromQL answers, ingested through the real API
 * (POST /api/v1/metrics): ten minutes of samples every 15 s ending at `end` (41 samples, i = 0…40).
 * - agent_requests_total{agent="planner",status="ok"}: i (rate 1/15 per second)
 * - agent_requests_total{agent="planner",status="error"}: i / 4 (rate 1/60: an error ratio of 0.25)
 * - agent_requests_total{agent="coder",status="ok"}: 2i, reset to 0 at i = 30, then 2(i - 30)
 * - llm_request_duration_seconds_bucket{le}: 1i, 3i, 4i, 4i for le 0.1, 0.5, 1, +Inf (p50 0.3, p95 0.9)
 */
import type { TestApp } from './app.ts'

export const STEP_S = 15
export const SAMPLES = 41

export function agentPoints(end: number) {
  const points: { name: string; value: number; labels: Record<string, string>; ts: number }[] = []
  for (let i = 0; i < SAMPLES; i++) {
    const ts = end - (SAMPLES - 1 - i) * STEP_S * 1000
    const add = (name: string, value: number, labels: Record<string, string>) =>
      points.push({ name, value, labels, ts })
    add('agent_requests_total', i, { agent: 'planner', status: 'ok' })
    add('agent_requests_total', i / 4, { agent: 'planner', status: 'error' })
    add('agent_requests_total', i < 30 ? 2 * i : 2 * (i - 30), { agent: 'coder', status: 'ok' })
    for (const [le, k] of [
      ['0.1', 1],
      ['0.5', 3],
      ['1', 4],
      ['+Inf', 4],
    ] as const)
      add('llm_request_duration_seconds_bucket', k * i, { le })
  }
  return points
}

export async function ingestAgentMetrics(t: TestApp, end: number) {
  const { headers } = await t.key('operator', ['ingest'])
  const all = agentPoints(end)
  for (let i = 0; i < all.length; i += 100) {
    const res = await t.json('POST', '/api/v1/metrics', { points: all.slice(i, i + 100) }, headers)
    if (res.status !== 200) throw new Error(`ingest failed: ${res.status} ${await res.text()}`)
  }
}

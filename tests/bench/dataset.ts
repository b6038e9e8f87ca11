/**
 * The series of the bench's query data set (tests/bench/seed.ts writes it, the query figures read
 * it): 100 metric names × 100 series. Five are the agent metrics the overview reads, labelled
 * {component: agent-00…agent-19, model: model-0…model-4} (llm_tokens_total also kind=prompt|completion);
 * 95 are host metrics host_metric_05…host_metric_99{instance: host-000…host-099}.
 */
export const COMPONENTS = 20
export const AGENT_METRICS = [
  'agent_requests_total',
  'agent_errors_total',
  'llm_tokens_total',
  'llm_cost_usd',
  'llm_latency_ms',
] as const

export const componentName = (n: number) => `agent-${String(n).padStart(2, '0')}`

/** The name and labels of series `i` (0 ≤ i < 10 000; past it, the scale group's host_metric_100… names). */
export function seriesOf(i: number): { name: string; labels: Record<string, string> } {
  const metric = Math.floor(i / 100)
  const j = i % 100
  if (metric < AGENT_METRICS.length) {
    const labels: Record<string, string> = {
      component: componentName(j % COMPONENTS),
      model: `model-${Math.floor(j / COMPONENTS)}`,
    }
    if (metric === 2) labels.kind = j % 2 ? 'completion' : 'prompt'
    return { name: AGENT_METRICS[metric]!, labels }
  }
  return {
    name: `host_metric_${String(metric).padStart(2, '0')}`,
    labels: { instance: `host-${String(j).padStart(3, '0')}` },
  }
}

import type { RuleInput } from '../schema.ts'

export type RuleTemplate = { id: string; title: string; description: string; rule: RuleInput }

/** Starting points for the rules users ask for first; each `rule` is a valid POST /api/v1/alert-rules body. */
export const ruleTemplates: RuleTemplate[] = [
  {
    id: 'health-degradation',
    title: 'Health degradation',
    description:
      'A component is down, or its uptime over 15 minutes falls below 95% (from the `up` metric its HTTP check or push heartbeat records).',
    rule: {
      name: 'Component health degraded',
      kind: 'threshold',
      metric: 'up',
      by: ['component'],
      agg: 'avg',
      window: 15 * 60_000,
      comparator: '<',
      value: 0.95,
      severity: 'critical',
      summary: '{{labels.component}} is degraded: uptime {{value}} over 15m',
      description:
        'The share of successful checks of {{labels.component}} over the last 15 minutes is {{value}} (below {{rule.threshold}}).',
    },
  },
  {
    id: 'high-error-rate',
    title: 'High error rate',
    description:
      "More than 5% of an agent's requests failed over 5 minutes (agent_errors_total ÷ agent_requests_total).",
    rule: {
      name: 'High error rate',
      kind: 'ratio',
      metric: 'agent_errors_total',
      params: { denominator: 'agent_requests_total' },
      by: ['component'],
      agg: 'sum',
      window: 5 * 60_000,
      comparator: '>',
      value: 0.05,
      severity: 'error',
      summary: 'Error rate of {{labels.component}} is {{value}}',
      description: 'Errors ÷ requests over 5 minutes is {{value}}, above {{rule.threshold}}.',
    },
  },
  {
    id: 'prompt-performance-drop',
    title: 'Prompt performance drop',
    description:
      'The mean score of a prompt version over the last hour is below 0.7. The healing rule template of the same id rolls the prompt back (prompt_rollback).',
    rule: {
      name: 'Prompt score below 0.7',
      kind: 'threshold',
      metric: 'prompt_score',
      by: ['prompt', 'version'],
      agg: 'avg',
      window: 60 * 60_000,
      comparator: '<',
      value: 0.7,
      severity: 'warning',
      summary: 'Prompt {{labels.prompt}} {{labels.version}} scores {{value}}',
      description: 'Mean prompt_score over 1h is {{value}}, below {{rule.threshold}}.',
    },
  },
  {
    id: 'cost-spike',
    title: 'Cost spike',
    description: 'LLM cost over the last hour is more than 3× the mean hourly cost of the previous day.',
    rule: {
      name: 'LLM cost spike',
      kind: 'change',
      metric: 'llm_cost_usd_total',
      agg: 'sum',
      window: 60 * 60_000,
      params: { compareTo: 'baseline', baseline: 24 * 60 * 60_000, unit: 'ratio' },
      comparator: '>',
      value: 3,
      severity: 'warning',
      summary: 'LLM cost is {{value}}× the usual hourly cost',
      description:
        'Cost over the last hour ÷ mean hourly cost over the previous 24h is {{value}} (limit {{rule.threshold}}).',
    },
  },
  {
    id: 'rag-ingestion-failure',
    title: 'RAG ingestion failure',
    description: 'Any document failed to ingest into a vector store in the last 5 minutes.',
    rule: {
      name: 'RAG ingestion failures',
      kind: 'threshold',
      metric: 'rag_ingestion_failures_total',
      by: ['component'],
      agg: 'sum',
      window: 5 * 60_000,
      comparator: '>',
      value: 0,
      severity: 'error',
      summary: '{{value}} documents failed to ingest into {{labels.component}}',
      description: 'rag_ingestion_failures_total summed over 5 minutes is {{value}}.',
    },
  },
]

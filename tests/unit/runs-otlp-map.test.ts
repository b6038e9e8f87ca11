import { describe, expect, it } from 'vitest'
import type { OtlpSpan } from '../../app/modules/runs/otlp/decode.ts'
import { factsOf, failureAttributes, operationOf, roleOf, titleOf } from '../../app/modules/runs/otlp/map.ts'

const span = (over: Partial<OtlpSpan> = {}): OtlpSpan => ({
  traceId: 'ab'.repeat(16),
  spanId: 'cd'.repeat(8),
  parentSpanId: '',
  name: 'span',
  startedAt: 1000,
  endedAt: 2000,
  attributes: {},
  resource: {},
  events: [],
  statusCode: 0,
  statusMessage: '',
  ...over,
})

describe('OTLP span mapping (GenAI semantic conventions)', () => {
  it('reads the operation from gen_ai.operation.name, or the name of a span with gen_ai attributes', () => {
    expect(operationOf(span({ attributes: { 'gen_ai.operation.name': 'invoke_agent' } }))).toBe('invoke_agent')
    expect(operationOf(span({ name: 'chat gpt-4o', attributes: { 'gen_ai.request.model': 'gpt-4o' } }))).toBe('chat')
    // A span merely named like an operation, with no GenAI attribute, is not one.
    expect(operationOf(span({ name: 'chat room join' }))).toBeUndefined()
  })

  it('makes agent and tool spans tasks, model calls llm, anything else other', () => {
    const agent = factsOf(
      span({ attributes: { 'gen_ai.operation.name': 'create_agent', 'gen_ai.agent.name': 'Planner Bot' } }),
    )
    expect(agent).toMatchObject({ kind: 'task', role: 'Planner_Bot', failed: false, component: 'Planner Bot' })
    const byId = factsOf(span({ attributes: { 'gen_ai.operation.name': 'invoke_agent', 'gen_ai.agent.id': 'a-7' } }))
    expect(byId.role).toBe('a-7')
    const tool = factsOf(span({ attributes: { 'gen_ai.operation.name': 'execute_tool', 'gen_ai.tool.name': 'grep' } }))
    expect(tool).toMatchObject({ kind: 'task', role: 'tool' })
    const chat = factsOf(
      span({
        attributes: {
          'gen_ai.operation.name': 'text_completion',
          'gen_ai.request.model': 'llama3',
          'gen_ai.usage.prompt_tokens': 12,
          'gen_ai.usage.completion_tokens': 3.7,
        },
        resource: { 'service.name': 'svc' },
      }),
    )
    expect(chat).toMatchObject({ kind: 'llm', model: 'llama3', inputTokens: 12, outputTokens: 3, component: 'svc' })
    expect(factsOf(span({ attributes: { 'http.request.method': 'GET' } })).kind).toBe('other')
  })

  it('takes the run id, goal, requester and labels from the span over its resource', () => {
    const f = factsOf(
      span({
        resource: { 'homeostat.run.id': 'run-1', 'homeostat.run.goal': 'old', 'homeostat.run.label.team': 'multi' },
        attributes: {
          'homeostat.run.goal': 'new',
          'homeostat.run.requester': 'ana',
          'homeostat.run.label.bad-name': 'x',
        },
      }),
    )
    expect(f.runId).toBe('run-1')
    expect(f.run).toEqual({ goal: 'new', requester: 'ana', labels: { team: 'multi' } })
    expect(factsOf(span()).runId).toBe('ab'.repeat(16))
    expect(factsOf(span()).run).toBeNull()
  })

  it('writes a failed span error from error.type, the status message and its exception events', () => {
    const failed = span({
      attributes: { 'gen_ai.operation.name': 'execute_tool', 'error.type': 'TimeoutError' },
      statusCode: 2,
      statusMessage: 'tool timed out',
      events: [
        {
          name: 'exception',
          attributes: {
            'exception.type': 'TimeoutError',
            'exception.message': 'after 30s',
            'exception.stacktrace': 'at x',
          },
        },
      ],
    })
    const f = factsOf(failed)
    expect(f.failed).toBe(true)
    expect(f.error).toBe('TimeoutError\ntool timed out\nTimeoutError: after 30s\nat x')
    expect(failureAttributes(failed)).toMatchObject({ 'error.type': 'TimeoutError', 'exception.type': 'TimeoutError' })
    // Status ERROR with nothing else still says what happened.
    expect(factsOf(span({ attributes: { 'gen_ai.operation.name': 'chat' }, statusCode: 2 })).error).toBe(
      'span status ERROR',
    )
    expect(factsOf(span({ attributes: { 'gen_ai.operation.name': 'chat' }, statusCode: 1 })).failed).toBe(false)
  })

  it('keeps roles and titles within what the runs API accepts', () => {
    expect(roleOf('  ')).toBe('_')
    expect(roleOf('')).toBe('agent')
    expect(roleOf('x'.repeat(300))).toHaveLength(100)
    expect(titleOf(span({ name: '', attributes: { 'gen_ai.tool.name': 'grep' } }))).toBe('execute_tool grep')
  })
})

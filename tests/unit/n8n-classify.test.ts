import { describe, expect, it } from 'vitest'
import { classify, type CompiledRule } from '../../app/modules/n8n/health/classify.ts'
import { compileUserRegex } from '../../app/lib/safe-regex.ts'

/** An execution as n8n 1.123 stores a failure: the node's run carries the error, resultData repeats it. */
function failed(node: string, type: string, error: Record<string, unknown>, status = 'error') {
  const full = { ...error, node: { name: node, type } }
  return {
    id: '7',
    status,
    data: {
      resultData: {
        runData: {
          Start: [{ startTime: 1, executionStatus: 'success', data: {} }],
          [node]: [{ startTime: 2, executionStatus: 'error', error: full }],
        },
        lastNodeExecuted: node,
        error: full,
      },
    },
  }
}
const http = 'n8n-nodes-base.httpRequest'

describe('classify', () => {
  const cases: [string, ReturnType<typeof failed>, string][] = [
    [
      'credentials (401)',
      failed('CRM', http, {
        name: 'NodeApiError',
        httpCode: '401',
        message: 'Authorization failed - please check your credentials',
      }),
      'credentials',
    ],
    [
      'credentials (missing)',
      failed('Sheets', 'n8n-nodes-base.googleSheets', {
        name: 'NodeOperationError',
        message: 'Node does not have any credentials set',
      }),
      'credentials',
    ],
    [
      'rate_limit (429)',
      failed('OpenAI', http, {
        name: 'NodeApiError',
        httpCode: '429',
        message: 'The service is receiving too many requests from you',
      }),
      'rate_limit',
    ],
    [
      'timeout',
      failed('Slow API', http, { name: 'NodeApiError', message: 'timeout of 5000ms exceeded', code: 'ECONNABORTED' }),
      'timeout',
    ],
    [
      'network (refused)',
      failed('Local', http, {
        name: 'NodeApiError',
        message: 'The service refused the connection - perhaps it is offline',
        messages: ['connect ECONNREFUSED 127.0.0.1:9'],
      }),
      'network',
    ],
    [
      'network (DNS)',
      failed('Local', http, { name: 'NodeApiError', message: 'getaddrinfo ENOTFOUND api.invalid' }),
      'network',
    ],
    [
      'upstream_5xx (503)',
      failed('Upstream', http, {
        name: 'NodeApiError',
        httpCode: '503',
        message: 'Service unavailable - try again later or consider setting this node to retry automatically',
      }),
      'upstream_5xx',
    ],
    [
      'upstream_5xx (status only in messages)',
      failed('Upstream', http, { name: 'NodeApiError', message: 'Bad request', messages: ['502 - "bad gateway"'] }),
      'upstream_5xx',
    ],
    [
      'expression',
      failed('Set', 'n8n-nodes-base.set', { name: 'ExpressionError', message: "Referenced node doesn't exist" }),
      'expression',
    ],
    ['code', failed('Code', 'n8n-nodes-base.code', { name: 'Error', message: 'foo is not defined [line 2]' }), 'code'],
    [
      'resource (crashed)',
      failed('Big', 'n8n-nodes-base.code', { message: 'Workflow did not finish' }, 'crashed'),
      'resource',
    ],
    [
      'resource (memory)',
      failed('Big', 'n8n-nodes-base.spreadsheetFile', { message: 'JavaScript heap out of memory' }),
      'resource',
    ],
    [
      'unknown',
      failed('Odd', 'n8n-nodes-base.noOp', { name: 'NodeOperationError', message: 'Something odd' }),
      'unknown',
    ],
  ]
  for (const [what, execution, cls] of cases)
    it(`puts ${what} down to ${cls}, with the failing node`, () => {
      const c = classify(execution, [])
      expect(c.failureClass).toBe(cls)
      expect(c.node).toBe(Object.keys(execution.data.resultData.runData)[1])
    })

  it('reads the HTTP status and the node type, and cuts the message', () => {
    const long = 'x'.repeat(2000)
    const c = classify(failed('Upstream', http, { httpCode: '503', message: long }), [])
    expect(c).toMatchObject({ failureClass: 'upstream_5xx', httpCode: 503, nodeType: http, node: 'Upstream' })
    expect(c.message!.length).toBe(500)
  })

  it("takes the node's type from the workflow when the error does not carry it", () => {
    const execution = {
      status: 'error',
      data: { resultData: { error: { message: 'boom' }, lastNodeExecuted: 'JS', runData: {} } },
    }
    const c = classify(execution, [], (n) => (n === 'JS' ? 'n8n-nodes-base.code' : null))
    expect(c).toMatchObject({ failureClass: 'code', node: 'JS', nodeType: 'n8n-nodes-base.code' })
  })

  it('copes with an execution without data', () => {
    expect(classify({ status: 'error' }, [])).toMatchObject({ failureClass: 'unknown', node: null, message: null })
  })

  it('tries user rules first, in order; every condition of a rule must hold', () => {
    const rules: CompiledRule[] = [
      {
        failureClass: 'rate_limit',
        pattern: compileUserRegex('quota', { anchored: false }),
        nodeType: http,
        httpStatus: null,
      },
      { failureClass: 'credentials', pattern: null, nodeType: null, httpStatus: 418 },
      {
        failureClass: 'timeout',
        pattern: compileUserRegex('(?i)slow', { anchored: false }),
        nodeType: null,
        httpStatus: null,
      },
    ]
    const quota = failed('A', http, { httpCode: '500', message: 'monthly quota used up' })
    expect(classify(quota, rules).failureClass).toBe('rate_limit')
    // Same message from another node type: the first rule does not hold, the built-in 5xx applies.
    expect(
      classify(failed('B', 'n8n-nodes-base.slack', { httpCode: '500', message: 'monthly quota used up' }), rules)
        .failureClass,
    ).toBe('upstream_5xx')
    expect(classify(failed('C', http, { httpCode: '418', message: 'teapot' }), rules).failureClass).toBe('credentials')
    expect(classify(failed('D', http, { message: 'SLOW backend' }), rules).failureClass).toBe('timeout')
  })
})

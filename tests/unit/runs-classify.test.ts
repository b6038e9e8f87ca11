import { describe, expect, it } from 'vitest'
import type { RunClassRule } from '../../db/schema/runs.ts'
import { classify, classifyBuiltIn, compileRules } from '../../app/modules/runs/classify.ts'

const PY_TRACE = `Traceback (most recent call last):
  File "/app/agent/run.py", line 42, in <module>
    main()
  File "/app/agent/run.py", line 12, in main
    total = items["count"] / 0
ZeroDivisionError: division by zero`

const JS_TRACE = `TypeError: Cannot read properties of undefined (reading 'map')
    at renderList (/app/src/list.js:14:22)
    at Object.<anonymous> (/app/src/index.js:3:1)`

const PYTEST = `============================= test session starts ==============================
collected 4 items

tests/test_math.py ..F.                                                  [100%]

=================================== FAILURES ===================================
___________________________________ test_add ___________________________________

    def test_add():
>       assert add(2, 2) == 5
E       assert 4 == 5
E        +  where 4 = add(2, 2)

tests/test_math.py:7: AssertionError
=========================== short test summary info ============================
FAILED tests/test_math.py::test_add - assert 4 == 5
========================= 1 failed, 3 passed in 0.05s ==========================`

const JEST = `FAIL src/sum.test.ts
  ● sum › adds two numbers

    expect(received).toBe(expected) // Object.is equality

    Expected: 5
    Received: 4

Tests:       1 failed, 2 passed, 3 total`

const NPM = `npm ERR! code E404
npm ERR! 404 Not Found - GET https://registry.npmjs.org/left-padd - Not found
npm ERR! 404  'left-padd@^1.0.0' is not in this registry.`

const MODULE = `Traceback (most recent call last):
  File "/app/main.py", line 1, in <module>
    import pandas as pd
ModuleNotFoundError: No module named 'pandas'`

const NODE_MODULE = `Error: Cannot find module 'express'
Require stack:
- /app/server.js
    at Module._resolveFilename (node:internal/modules/cjs/loader:1145:15)`

const PY_SYNTAX = `  File "/app/gen.py", line 8
    def handler(event
                     ^
SyntaxError: '(' was never closed`

const TS_SYNTAX = `src/app.ts(3,15): error TS1005: ',' expected.`

const OPENAI_429 = `openai.RateLimitError: Error code: 429 - {'error': {'message': 'Rate limit reached for gpt-4o in organization org-x on tokens per min (TPM): Limit 30000, Used 29860, Requested 1200.', 'type': 'tokens', 'code': 'rate_limit_exceeded'}}`

const QUOTA = `openai.RateLimitError: Error code: 429 - {'error': {'message': 'You exceeded your current quota, please check your plan and billing details.', 'type': 'insufficient_quota'}}`

const CONTEXT = `openai.BadRequestError: Error code: 400 - {'error': {'message': "This model's maximum context length is 128000 tokens. However, your messages resulted in 131072 tokens.", 'code': 'context_length_exceeded'}}`

const ANTHROPIC_529 = `anthropic.InternalServerError: Error code: 529 - {'type': 'error', 'error': {'type': 'overloaded_error', 'message': 'Overloaded'}}`

const REFUSAL = `The model declined: "I'm sorry, but I can't help with that request."`

const SCHEMA = `pydantic_core._pydantic_core.ValidationError: 2 validation errors for PlanOutput
steps
  Field required [type=missing, input_value={'goal': 'x'}, input_type=dict]`

const JSON_BAD = `SyntaxError: Unexpected token 'H', "Here is the JSON you asked for" is not valid JSON`

const TIMEOUT = `Error: Timeout of 30000ms exceeded. For async tests and hooks, ensure "done()" is called`

const HTTPX_TIMEOUT = 'httpx.ReadTimeout: timed out'

const TOOL = `ToolException: Error executing tool web_search: connection reset by peer`

describe('the built-in classifier on realistic error texts', () => {
  it.each([
    ['Python traceback', 'runtime_error', PY_TRACE],
    ['JS stack', 'runtime_error', JS_TRACE],
    ['pytest failure', 'test_failure', PYTEST],
    ['jest failure', 'test_failure', JEST],
    ['npm ERR! E404', 'dependency', NPM],
    ['ModuleNotFoundError', 'dependency', MODULE],
    ['Cannot find module', 'dependency', NODE_MODULE],
    ['Python SyntaxError', 'syntax', PY_SYNTAX],
    ['TypeScript TS1005', 'syntax', TS_SYNTAX],
    ['OpenAI 429', 'rate_limit', OPENAI_429],
    ['quota exhausted', 'budget', QUOTA],
    ['context length', 'model_error', CONTEXT],
    ['Anthropic overloaded 529', 'model_error', ANTHROPIC_529],
    ['refusal', 'model_error', REFUSAL],
    ['pydantic schema failure', 'bad_output', SCHEMA],
    ['JSON.parse of prose', 'bad_output', JSON_BAD],
    ['mocha timeout', 'timeout', TIMEOUT],
    ['httpx timeout', 'timeout', HTTPX_TIMEOUT],
    ['tool exception', 'tool_error', TOOL],
    ['nothing recognisable', 'unknown', 'the agent gave up'],
  ])('%s → %s', (_name, cls, error) => {
    expect(classifyBuiltIn({ error })).toBe(cls)
  })

  it('reads attributes: HTTP status, error type, tool spans', () => {
    expect(classifyBuiltIn({ error: 'request failed', attributes: { 'http.response.status_code': 429 } })).toBe(
      'rate_limit',
    )
    expect(classifyBuiltIn({ error: 'request failed', attributes: { 'http.status_code': 503 } })).toBe('model_error')
    expect(
      classifyBuiltIn({
        error: 'request failed',
        attributes: { 'http.status_code': 502, 'gen_ai.operation.name': 'execute_tool' },
      }),
    ).toBe('tool_error')
    expect(classifyBuiltIn({ error: 'x', attributes: { 'error.type': 'TimeoutError' } })).toBe('timeout')
    expect(classifyBuiltIn({ error: 'x', attributes: { 'gen_ai.tool.name': 'search' } })).toBe('tool_error')
  })
})

const rule = (r: Partial<RunClassRule>): RunClassRule => ({
  id: r.id ?? 'r',
  name: 'r',
  pattern: null,
  role: null,
  attribute: null,
  attributeValue: null,
  class: 'tool_error',
  position: 0,
  enabled: true,
  createdAt: 0,
  updatedAt: 0,
  ...r,
})

describe('user rules', () => {
  it('come first, first match wins; role and attribute conditions narrow them; disabled ones are skipped', () => {
    const rules = compileRules([
      rule({ id: 'a', pattern: 'sandbox (lost|gone)', class: 'tool_error' }),
      rule({ id: 'b', pattern: 'sandbox', class: 'timeout' }),
      rule({ id: 'c', pattern: 'flaky', role: 'tester', class: 'test_failure' }),
      rule({ id: 'd', attribute: 'exit_code', attributeValue: '137', class: 'budget' }),
      rule({ id: 'e', pattern: 'ZeroDivision', class: 'bad_output', enabled: false }),
    ])
    expect(classify(rules, { error: 'the sandbox gone away' })).toBe('tool_error')
    expect(classify(rules, { error: 'sandbox restarted' })).toBe('timeout')
    expect(classify(rules, { error: 'flaky network', role: 'tester' })).toBe('test_failure')
    expect(classify(rules, { error: 'flaky network', role: 'coder' })).toBe('unknown')
    expect(classify(rules, { error: 'killed', attributes: { exit_code: 137 } })).toBe('budget')
    expect(classify(rules, { error: PY_TRACE })).toBe('runtime_error')
  })

  it('run on the linear-time engine: a pathological pattern on a long text answers', () => {
    const rules = compileRules([rule({ pattern: '(a+)+$', class: 'syntax' })])
    expect(classify(rules, { error: `${'a'.repeat(50_000)}!` })).toBe('unknown')
    expect(classify(rules, { error: 'a'.repeat(50_000) })).toBe('syntax')
  })
})

/**
 * Failure classes from an error's text and its attributes (docs/runs.md#failure-classes). The
 * built-in rules are ours and fixed, tried in order; the order matters where texts overlap: a
 * pytest failure prints a traceback (test_failure before runtime_error), a model answer that is not
 * JSON raises a SyntaxError in JSON.parse (bad_output before syntax), a missing module is raised
 * from a traceback (dependency before runtime_error), a 429 that says "quota" is the budget.
 * Users' rules (stored, RE2 through app/lib/safe-regex.ts) are tried before these; first match wins.
 */
import type { RunClassRule, RunFailureClass } from '../../../db/schema/runs.ts'
import { compileUserRegex, type UserRegex } from '../../lib/safe-regex.ts'

export type Attributes = Record<string, string | number | boolean>
export type FailureFacts = { error: string; role?: string | null; attributes?: Attributes }

const BUILT_IN: [RunFailureClass, RegExp][] = [
  [
    'budget',
    /\b(budget (exceeded|exhausted)|over budget|insufficient_quota|exceeded your current quota|max(imum)? (cost|spend)|spending limit)\b/i,
  ],
  ['rate_limit', /\b(429|too many requests|rate[ _-]?limit(ed)?|ratelimit|throttl(ed|ing)|slow down)\b/i],
  [
    'timeout',
    /\b(timed? ?out|timeout(error)?|deadline exceeded|ETIMEDOUT|ESOCKETTIMEDOUT|exceeded timeout of \d+|took too long)\b/i,
  ],
  [
    'model_error',
    /\b(context[_ ]length[_ ]exceeded|maximum context length|prompt is too long|too many tokens|overloaded(_error)?|content[_ ]filter|refus(al|ed to)|I('m| am) sorry, but I can(no|')t|as an AI|model_not_found|(500|502|503|504|529) (internal server error|bad gateway|service unavailable|gateway time-?out|overloaded)|upstream (error|5\d\d)|APIError|InternalServerError|ServiceUnavailableError)\b/i,
  ],
  [
    'bad_output',
    /(does not match (the )?schema|failed (json )?schema validation|schema validation failed|ValidationError: \d+ validation errors? for|JSONDecodeError|Unexpected token .{0,20} in JSON|is not valid JSON|invalid JSON|output parser|OutputParserException|must have required property|expected .{0,40} got .{0,40} at path)/i,
  ],
  [
    'dependency',
    /(ModuleNotFoundError|No module named|ImportError|Cannot find module|Cannot find package|Module not found|npm ERR!|npm error (code )?(E404|ERESOLVE|ETARGET)|ERESOLVE|E404|pip(3)? install|No matching distribution|could not resolve dependenc|unable to resolve dependency|package .{1,80} is not installed|command not found)/i,
  ],
  [
    'syntax',
    /(SyntaxError|IndentationError|TabError|Unexpected token|Unexpected end of input|unterminated string|error TS1\d{3}|Parse error|ParseError|expected ['"`;)\]}]|invalid syntax)/i,
  ],
  [
    'test_failure',
    /(\b\d+ failed\b|FAILED [\w/.-]+::|AssertionError|assert .{0,200} ==|Tests?: +\d+ failed|✕|expect\(received\)|Expected: .{0,200}\n\s*Received:|test(s)? failed|FAIL [\w/.-]+\.(test|spec)\.[jt]sx?|pytest|--- FAIL:)/i,
  ],
  [
    'tool_error',
    /\b(tool (call )?(error|failed)|ToolException|tool_use_error|function call failed|invalid tool|unknown tool|MCP error)\b/i,
  ],
  [
    'runtime_error',
    /(Traceback \(most recent call last\)|\b(TypeError|ReferenceError|RangeError|KeyError|IndexError|AttributeError|ValueError|ZeroDivisionError|NameError|RuntimeError|NullPointerException|panic:|Segmentation fault|Uncaught|UnhandledPromiseRejection|Exception)\b|at .{1,200} \(.{1,300}:\d+:\d+\))/,
  ],
]

const str = (a: Attributes | undefined, ...keys: string[]) => {
  for (const k of keys) if (a?.[k] !== undefined) return String(a[k])
  return undefined
}

/** What the attributes alone say (an HTTP status, an exit code, an error type, a tool span). */
function fromAttributes(a: Attributes | undefined): RunFailureClass | undefined {
  if (!a) return undefined
  const status = Number(str(a, 'http.response.status_code', 'http.status_code', 'status_code'))
  const type = (str(a, 'error.type', 'exception.type') ?? '').toLowerCase()
  const op = str(a, 'gen_ai.operation.name')
  if (status === 429) return 'rate_limit'
  if (type.includes('timeout') || str(a, 'exit_code') === '124') return 'timeout'
  if (type.includes('ratelimit') || type.includes('rate_limit')) return 'rate_limit'
  if (status >= 500 && status < 600) return op === 'execute_tool' ? 'tool_error' : 'model_error'
  return undefined
}

/** The built-in classifier: attributes that settle it, then the text rules, then a tool span, else unknown. */
export function classifyBuiltIn(f: FailureFacts): RunFailureClass {
  const byAttr = fromAttributes(f.attributes)
  if (byAttr) return byAttr
  const text = f.error.slice(0, 20_000)
  for (const [cls, re] of BUILT_IN) if (re.test(text)) return cls
  if (str(f.attributes, 'gen_ai.operation.name') === 'execute_tool' || str(f.attributes, 'gen_ai.tool.name'))
    return 'tool_error'
  return 'unknown'
}

type CompiledRule = { rule: RunClassRule; re: UserRegex | null }

/** Users' rules compiled once per load (the service reloads them when they change). */
export const compileRules = (rules: RunClassRule[]): CompiledRule[] =>
  rules
    .filter((r) => r.enabled)
    .map((rule) => ({ rule, re: rule.pattern ? compileUserRegex(rule.pattern, { anchored: false }) : null }))

function ruleMatches({ rule, re }: CompiledRule, f: FailureFacts): boolean {
  if (rule.role && rule.role !== f.role) return false
  if (rule.attribute) {
    const value = f.attributes?.[rule.attribute]
    if (value === undefined) return false
    if (rule.attributeValue != null && String(value) !== rule.attributeValue) return false
  }
  return re ? re.test(f.error) : true
}

/** Users' rules first (in position order, first match wins), then the built-in classifier. */
export function classify(rules: CompiledRule[], f: FailureFacts): RunFailureClass {
  for (const r of rules) if (ruleMatches(r, f)) return r.rule.class
  return classifyBuiltIn(f)
}

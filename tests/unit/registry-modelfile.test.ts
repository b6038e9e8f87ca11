import { describe, expect, it } from 'vitest'
import { createBody, fromIsPath, validateModelfile } from '../../app/modules/registry/models/modelfile.ts'

const lines = (...l: string[]) => l.join('\n')
const errorsOf = (text: string) => validateModelfile(text).errors

describe('validateModelfile: what passes', () => {
  it('parses a full Modelfile: comments, every instruction, quoted and triple-quoted values', () => {
    const r = validateModelfile(
      lines(
        '# finance assistant',
        'FROM qwen2.5:7b',
        '',
        'PARAMETER temperature 0.2',
        'PARAMETER num_ctx 8192',
        'PARAMETER top_p 0.9',
        'PARAMETER min_p 0.05',
        'PARAMETER mirostat 2',
        'PARAMETER mirostat_eta 0.1',
        'PARAMETER mirostat_tau 5.0',
        'PARAMETER repeat_last_n -1',
        'PARAMETER repeat_penalty 1.1',
        'PARAMETER seed 42',
        'PARAMETER num_predict -1',
        'PARAMETER top_k 40',
        'PARAMETER stop "<|im_end|>"',
        'PARAMETER stop <|endoftext|>',
        'parameter use_mmap true',
        'TEMPLATE """{{ if .System }}<|im_start|>system',
        '{{ .System }}<|im_end|>',
        '{{ end }}"""',
        'SYSTEM "You answer questions about invoices."',
        'MESSAGE user Is 2+2 four?',
        'MESSAGE assistant """Yes."""',
        'LICENSE """Apache 2.0',
        'see LICENSE"""',
        'REQUIRES 0.6.0',
      ),
    )
    expect(r.errors).toEqual([])
    expect(r.valid).toBe(true)
    expect(r.parsed).toMatchObject({
      from: 'qwen2.5:7b',
      parameters: {
        temperature: 0.2,
        num_ctx: 8192,
        top_p: 0.9,
        min_p: 0.05,
        mirostat: 2,
        repeat_last_n: -1,
        seed: 42,
        num_predict: -1,
        stop: ['<|im_end|>', '<|endoftext|>'],
        use_mmap: true,
      },
      template: '{{ if .System }}<|im_start|>system\n{{ .System }}<|im_end|>\n{{ end }}',
      system: 'You answer questions about invoices.',
      messages: [
        { role: 'user', content: 'Is 2+2 four?' },
        { role: 'assistant', content: 'Yes.' },
      ],
      license: ['Apache 2.0\nsee LICENSE'],
      requires: '0.6.0',
    })
  })

  it('takes a bare SYSTEM to the end of the line, a double-quoted value over several lines, CRLF line ends', () => {
    const r = validateModelfile('FROM llama3.2\r\nSYSTEM You are Mario.\r\nTEMPLATE "a\r\nb"\r\n')
    expect(r.errors).toEqual([])
    expect(r.parsed.system).toBe('You are Mario.')
    expect(r.parsed.template).toBe('a\nb')
  })

  it('warns (does not fail) when SYSTEM, TEMPLATE or a parameter is set twice, naming both lines', () => {
    const r = validateModelfile(lines('FROM x', 'SYSTEM a', 'SYSTEM b', 'PARAMETER seed 1', 'PARAMETER seed 2'))
    expect(r.valid).toBe(true)
    expect(r.warnings).toEqual([
      { line: 3, message: 'SYSTEM set again (line 2): the last is used' },
      { line: 5, message: 'PARAMETER seed set again (line 4): the last is used' },
    ])
    expect(r.parsed.system).toBe('b')
    expect(r.parsed.parameters.seed).toBe(2)
  })
})

describe('validateModelfile: what fails, line by line', () => {
  it('requires FROM', () => {
    expect(errorsOf('SYSTEM hi')).toEqual([
      { line: null, message: 'FROM is required: name the base model (e.g. FROM llama3.2)' },
    ])
    expect(errorsOf('')).toHaveLength(1)
    expect(errorsOf('# only a comment')).toHaveLength(1)
    expect(errorsOf('FROM')).toEqual([{ line: 1, message: 'FROM needs a model name or a file path' }])
  })

  it('names unknown instructions and parameters with their lines', () => {
    expect(errorsOf(lines('FROM x', 'RUN echo', 'PARAMETER temprature 1'))).toEqual([
      { line: 2, message: 'unknown instruction "RUN"' },
      { line: 3, message: 'unknown parameter "temprature"' },
    ])
  })

  it('checks parameter value types and ranges as Ollama documents them', () => {
    const bad = [
      ['num_ctx 4096.5', 'PARAMETER num_ctx must be an integer, not "4096.5"'],
      ['num_ctx 0', 'PARAMETER num_ctx must be at least 1, not "0"'],
      ['temperature hot', 'PARAMETER temperature must be a number, not "hot"'],
      ['temperature -0.1', 'PARAMETER temperature must be at least 0, not "-0.1"'],
      ['top_p 1.5', 'PARAMETER top_p must be at most 1, not "1.5"'],
      ['min_p -1', 'PARAMETER min_p must be at least 0, not "-1"'],
      ['mirostat 3', 'PARAMETER mirostat must be one of 0, 1, 2, not "3"'],
      ['seed 1e3', 'PARAMETER seed must be an integer, not "1e3"'],
      ['use_mmap yes', 'PARAMETER use_mmap must be true or false, not "yes"'],
      ['repeat_last_n -2', 'PARAMETER repeat_last_n must be at least -1, not "-2"'],
      ['top_k', 'PARAMETER top_k needs a value'],
    ]
    for (const [param, message] of bad)
      expect(errorsOf(lines('FROM x', `PARAMETER ${param}`)), param).toEqual([{ line: 2, message }])
    expect(errorsOf(lines('FROM x', 'PARAMETER temperature 1e-1', 'PARAMETER top_p .5'))).toEqual([])
  })

  it('refuses MESSAGE roles other than system, user and assistant, and empty messages', () => {
    expect(errorsOf(lines('FROM x', 'MESSAGE tool hi', 'MESSAGE user', 'MESSAGE'))).toEqual([
      { line: 2, message: 'MESSAGE role must be system, user or assistant, not "tool"' },
      { line: 3, message: 'MESSAGE user needs the message text' },
      { line: 4, message: 'MESSAGE needs a role and a value' },
    ])
  })

  it('reports an unterminated quote at the line that opened it, and text after a closing quote', () => {
    expect(errorsOf(lines('FROM x', 'SYSTEM """never', 'closed'))).toEqual([
      { line: 2, message: 'unterminated """ value (opened here, never closed)' },
    ])
    expect(errorsOf(lines('FROM x', 'SYSTEM "a" b'))).toEqual([
      { line: 2, message: 'unexpected text after the closing ": "b"' },
    ])
    expect(errorsOf(lines('FROM x', 'TEMPLATE """a', 'b""" tail'))).toEqual([
      { line: 3, message: 'unexpected text after the closing """: "tail"' },
    ])
  })

  it('keeps counting lines after a multi-line value, and reports every error at once', () => {
    const r = validateModelfile(
      lines('FROM x', 'SYSTEM """', 'one', 'two', '"""', 'PARAMETER seed x', 'BOGUS', 'REQUIRES latest'),
    )
    expect(r.errors).toEqual([
      { line: 6, message: 'PARAMETER seed must be an integer, not "x"' },
      { line: 7, message: 'unknown instruction "BOGUS"' },
      { line: 8, message: 'REQUIRES must be an Ollama version such as 0.6.0, not "latest"' },
    ])
    expect(r.valid).toBe(false)
  })

  it('needs ADAPTER and LICENSE values', () => {
    expect(errorsOf(lines('FROM x', 'ADAPTER', 'LICENSE ""'))).toEqual([
      { line: 2, message: 'ADAPTER needs a file path' },
      { line: 3, message: 'LICENSE needs the license text' },
    ])
  })
})

describe('createBody: the /api/create JSON', () => {
  it('sends from, parameters, template, system, license and messages', () => {
    const r = validateModelfile(lines('FROM qwen2.5:7b', 'PARAMETER temperature 0.2', 'SYSTEM s', 'MESSAGE user u'))
    expect(createBody('m:1.0.0', r.parsed)).toEqual({
      body: {
        model: 'm:1.0.0',
        from: 'qwen2.5:7b',
        stream: true,
        parameters: { temperature: 0.2 },
        system: 's',
        messages: [{ role: 'user', content: 'u' }],
      },
    })
  })

  it('refuses a FROM file or an ADAPTER (their blobs would have to be uploaded first)', () => {
    expect(fromIsPath('./model.gguf')).toBe(true)
    expect(fromIsPath('/models/x')).toBe(true)
    expect(fromIsPath('qwen2.5:7b')).toBe(false)
    expect(createBody('m:1', validateModelfile('FROM ./model.gguf').parsed)).toHaveProperty('error')
    expect(createBody('m:1', validateModelfile(lines('FROM x', 'ADAPTER ./lora.gguf')).parsed)).toHaveProperty('error')
  })
})

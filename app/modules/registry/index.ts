// The registry module's public face (models, prompts, comparing versions): others import only this.
export { comparePages, compareRoutes } from './compare/index.ts'
export { promptPages } from './prompts/pages.tsx'
export { promptPort } from './prompts/port.ts'
export { promptRoutes } from './prompts/routes.ts'
export { createPrompts, PROMPT_EVENTS, type PromptEvent, type Prompts } from './prompts/service.ts'

// The registry module's public face: other modules, the composition root and jobs import only this.
export { promptPages } from './prompts/pages.tsx'
export { promptPort } from './prompts/port.ts'
export { promptRoutes } from './prompts/routes.ts'
export { createPrompts, PROMPT_EVENTS, type PromptEvent, type Prompts } from './prompts/service.ts'

// Public surface of the inference engine: createEngine and its types.
export { createEngine, EngineError } from './engine.ts';
export type * from './types.ts';

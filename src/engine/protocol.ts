// Messages between the engine's main-thread handle and its worker.
import type { Adaptation } from '../core/adapted-bundle.ts';
import type { BackendChoice, BackendInfo, BundleFileBytes, BundleSource, EngineMemory, FieldDisplay, FieldInput, FieldResult, LoadedBundle, OfflineFile, ShippedModel, TrustedKey } from './types.ts';

export type ToWorker =
  | { type: 'init'; id: number; backend: BackendChoice; threads?: number; baseUrl: string; trustedKeys?: TrustedKey[] }
  /** remembered: the page's stored 'auto' choices (localStorage, key -> JSON), which the worker cannot read itself. */
  | { type: 'loadBundle'; id: number; source: BundleSource; remembered?: Record<string, string> }
  | { type: 'classifyStart'; id: number; total: number }
  | { type: 'field'; id: number; index: number; field: FieldInput }
  | { type: 'cancel'; id: number }
  | { type: 'display'; id: number; field: FieldInput; maxSide?: number }
  | { type: 'offlineFiles'; id: number; source: BundleSource }
  | { type: 'memory'; id: number }
  | { type: 'shippedModels'; id: number }
  | { type: 'adaptBundle'; id: number; adaptation: Adaptation };

/** A serialisable error: name (BundleError, AbortError, ...) and message. */
export interface WireError {
  name: string;
  message: string;
}

export type FromWorker =
  | { type: 'ready'; id: number; info: BackendInfo }
  /** remember: an 'auto' choice the page should store (localStorage) for later starts. */
  | { type: 'bundle'; id: number; bundle: LoadedBundle; remember?: { key: string; value: string } }
  | { type: 'result'; id: number; index: number; result: FieldResult }
  | { type: 'classifyDone'; id: number }
  | { type: 'display'; id: number; display: FieldDisplay }
  | { type: 'offlineFiles'; id: number; files: OfflineFile[] }
  | { type: 'memory'; id: number; memory: EngineMemory }
  | { type: 'shippedModels'; id: number; models: ShippedModel[] }
  | { type: 'adaptedBundle'; id: number; files: BundleFileBytes[] }
  | { type: 'error'; id: number; error: WireError };

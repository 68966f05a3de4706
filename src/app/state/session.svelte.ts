// The app's one piece of live state: engine and model, dropped files, the run plan, results and progress (Svelte runes).
import type { ChannelMapping } from '../../core/grouping.ts';
import type { ImageChannels } from '../../core/image-probe.ts';
import { CHANNELS, MOA_CLASSES, type ChannelName } from '../../core/labels.ts';
import { createEngine, type BackendChoice, type BackendInfo, type BundleSource, type Engine, type FieldDisplay, type FieldInput, type FieldResult, type FieldTimings, type LoadedBundle, type ShippedModel } from '../../engine/index.ts';
import { fetchDemoPlate } from './demo.ts';
import { browserStore, recallMapping, rememberMapping } from './channel-memory.ts';
import { probeDropped, sortDrop, type DropProblem, type DropResult, type DroppedFile } from './drop.ts';
import { needsProbe, planRun, readMetadata, remap, type MappingRow, type MetadataTables, type RunPlan } from './intake.ts';
import type { Adaptation } from '../../core/adapted-bundle.ts';
import { listLocalBundles, localBundleFiles, saveLocalBundle, type LocalBundleInfo } from './local-bundles.ts';
import { defaultModel, modelEntries, recallChoice, rememberChoice, resolveChoice, type ModelChoice, type ModelEntry } from './model-choice.ts';
import { recallSpeed, recordProbe, recordRun, type ModelSpeed } from './model-speed.ts';
import { UnverifiedConsent } from './model-trust.ts';
import { precache, startServiceWorker, type PrecacheProgress } from './offline.ts';
import { platesFromFields } from './plate-layout.ts';
import { ProgressTracker, type ProgressView } from './progress.ts';
import { applyResult, pendingRow, runCounts, runScores, treatmentRows, type FieldRow } from './results.ts';

export type Phase = 'empty' | 'review' | 'running' | 'done';

export interface OfflineState {
  status: 'unavailable' | 'starting' | 'caching' | 'ready' | 'error';
  done: number;
  total: number;
  bytes: number;
  message?: string;
}

export interface DemoState {
  status: 'idle' | 'downloading' | 'error';
  done: number;
  total: number;
  bytes: number;
  message?: string;
}

const EMPTY_TABLES: MetadataTables = { image: [], moa: [], problems: [] };
const NO_PROGRESS: ProgressView = { done: 0, total: 0, fraction: 0, rate: null, etaSeconds: null };

/** URL parameters an advanced user (or a test) may set: ?backend=wasm|webgpu|cpu, ?bundle=<same-origin folder>. */
export function urlSettings(search: string): { backend: BackendChoice; bundle?: string } {
  const p = new URLSearchParams(search);
  const b = p.get('backend');
  const backend: BackendChoice = b === 'wasm' || b === 'webgpu' || b === 'cpu' ? b : 'auto';
  return { backend, bundle: p.get('bundle') || undefined };
}

export class Session {
  phase = $state<Phase>('empty');
  backendChoice = $state<BackendChoice>('auto');
  backend = $state.raw<BackendInfo | null>(null);
  bundle = $state.raw<LoadedBundle | null>(null);
  engineStatus = $state<'starting' | 'loading-model' | 'ready' | 'error'>('starting');
  engineError = $state<string | null>(null);
  offline = $state<OfflineState>({ status: 'starting', done: 0, total: 0, bytes: 0 });
  /** Unverified bundles the user chose to run (by hash); an unverified bundle runs only once it is here. */
  consent = $state.raw(new UnverifiedConsent());
  demo = $state<DemoState>({ status: 'idle', done: 0, total: 0, bytes: 0 });
  /** Bundles made in this browser (adapted models), trusted by the hash recorded when they were made. */
  localBundles = $state.raw<LocalBundleInfo[]>([]);
  /** The bundles models/index.json lists (the default first), as their moa-lens.json describes them. */
  shippedModels = $state.raw<ShippedModel[]>([]);
  /** Speeds measured on this machine, by model sha256, as recorded since the start (the rest are read from localStorage). */
  speeds = $state.raw<ReadonlyMap<string, ModelSpeed>>(new Map());
  /** Why the model chosen before is not the one loaded (it is gone), or why the list is incomplete. */
  modelNotice = $state<string | null>(null);

  images = $state.raw<DroppedFile[]>([]);
  csvs = $state.raw<{ path: string; text: string }[]>([]);
  /** Files that could not be read or are of no use, from every drop so far. */
  dropProblems = $state.raw<DropProblem[]>([]);
  /** Plain sentence when a drop brought nothing usable. */
  notice = $state<string | null>(null);
  mapping = $state.raw<ChannelMapping>({});
  /** What each inspected image holds (its channels), or why it could not be read, by path. */
  probes = $state.raw<ReadonlyMap<string, ImageChannels | Error>>(new Map());
  /** Images being inspected before the plan is final (null when none). */
  probing = $state.raw<{ done: number; total: number } | null>(null);
  /** The channel mapping of the last run, as exported with its results. */
  runMapping = $state.raw<MappingRow[]>([]);
  rgbOrder = $state.raw<[number, number, number]>([0, 1, 2]);

  rows = $state.raw<FieldRow[]>([]);
  progress = $state.raw<ProgressView>(NO_PROGRESS);
  runError = $state<string | null>(null);
  selectedId = $state<string | null>(null);

  classes = $derived<readonly string[]>(this.bundle?.classes ?? MOA_CLASSES);
  channels = $derived<readonly ChannelName[]>(this.bundle?.preprocessing.channels ?? CHANNELS);
  tables = $derived<MetadataTables>(this.csvs.length ? readMetadata(this.csvs) : EMPTY_TABLES);
  plan = $derived<RunPlan>(planRun(this.images, this.tables, { mapping: this.mapping, rgbOrder: this.rgbOrder, probes: this.probes }, this.channels));
  treatments = $derived(treatmentRows(this.rows, this.classes));
  scores = $derived(runScores(this.rows, this.treatments, this.classes.length));
  plates = $derived(platesFromFields(this.rows));
  counts = $derived(runCounts(this.rows));
  /** The loaded model is unverified and the user has not yet chosen to run it. */
  needsTrustConfirmation = $derived(this.consent.needsConfirmation(this.bundle));
  /** The engine is ready and its model may run. */
  canRun = $derived(this.engineStatus === 'ready' && this.consent.mayRun(this.bundle) && this.probing === null);
  /** The model list: every shipped bundle and every bundle made here, the one loaded marked. */
  models = $derived<ModelEntry[]>(modelEntries(this.shippedModels, this.localBundles, this.bundle, (hash) => this.speeds.get(hash) ?? recallSpeed(browserStore(), hash)));
  selected = $derived(this.selectedId === null ? null : (this.rows.find((r) => r.id === this.selectedId) ?? null));

  private engine: Engine | null = null;
  private bundleSource: BundleSource = 'default';
  /** A service worker controls the page: a newly chosen model is saved for offline use too. */
  private controlled = false;
  private inputs = new Map<string, FieldInput>();
  private controller: AbortController | null = null;
  private tracker = new ProgressTracker();

  /** Starts offline support and the engine, then loads the model (from ?bundle= or the default). */
  async start(options: { serviceWorker: boolean; search: string }): Promise<void> {
    const settings = urlSettings(options.search);
    this.backendChoice = settings.backend;
    if (settings.bundle) this.bundleSource = { url: settings.bundle };
    await this.recallLocalBundles();
    if (options.serviceWorker) {
      const sw = await startServiceWorker();
      if (sw === 'reloading') return;
      this.controlled = sw === 'controlled';
    }
    if (!this.controlled) this.offline = { status: 'unavailable', done: 0, total: 0, bytes: 0, message: 'Offline use needs the built app (npm start) in a browser with service workers.' };
    await this.startEngine();
    await this.listShippedModels();
    if (!settings.bundle) await this.restoreChoice();
    if (this.controlled) await this.cacheForOffline();
    await this.loadModel(this.bundleSource);
  }

  private async startEngine(): Promise<void> {
    this.engine?.dispose();
    this.engine = null;
    this.engineStatus = 'starting';
    this.engineError = null;
    try {
      this.engine = await createEngine({ backend: this.backendChoice });
      this.backend = this.engine.backendInfo;
    } catch (err) {
      this.engineStatus = 'error';
      this.engineError = `The inference engine could not start: ${(err as Error).message}`;
    }
  }

  /** Caches the files the engine fetches (WASM binaries, the model's files) through the service worker, with progress, before the model loads. */
  private async cacheForOffline(): Promise<void> {
    try {
      this.offline = { status: 'caching', done: 0, total: 0, bytes: 0 };
      if (!this.engine) throw new Error('the inference engine is not running.');
      const items = await this.engine.offlineFiles(this.bundleSource);
      await precache(items, (p: PrecacheProgress) => {
        this.offline = { status: p.finished ? 'ready' : 'caching', done: p.done, total: p.total, bytes: p.bytes };
      });
    } catch (err) {
      this.offline = { status: 'error', done: 0, total: 0, bytes: 0, message: `Could not save the app for offline use: ${(err as Error).message}` };
    }
  }

  async loadModel(source: BundleSource): Promise<void> {
    if (!this.engine) return;
    this.engineStatus = 'loading-model';
    try {
      this.bundle = await this.engine.loadBundle(source);
      this.backend = this.engine.backendInfo; // 'auto' decides per model
      this.noteSpeed(this.bundle.hash, recordProbe(browserStore(), this.bundle.hash, this.bundle.backend));
      this.bundleSource = source;
      this.engineStatus = 'ready';
      this.engineError = null;
    } catch (err) {
      this.engineStatus = this.bundle ? 'ready' : 'error';
      this.engineError = `The model could not be loaded: ${(err as Error).message}`;
    }
  }

  /** Lists the bundles made here, each trusted by its recorded hash. */
  private async recallLocalBundles(): Promise<void> {
    try {
      this.localBundles = await listLocalBundles();
      this.consent = this.localBundles.reduce((c, b) => c.accept({ hash: b.hash, trust: { status: 'unverified', detail: 'made in this browser' } }), this.consent);
    } catch (err) {
      this.engineError = `The models made in this browser could not be read: ${(err as Error).message}`;
    }
  }

  /** Lists the shipped bundles (from models/index.json, through the engine). */
  private async listShippedModels(): Promise<void> {
    if (!this.engine) return;
    try {
      this.shippedModels = await this.engine.listShippedModels();
    } catch (err) {
      this.modelNotice = `The list of shipped models could not be read: ${(err as Error).message}`;
    }
  }

  /** The model chosen before, when it is still there; else the default, with a notice saying why. */
  private async restoreChoice(): Promise<void> {
    const remembered = recallChoice(browserStore());
    // Without the shipped list (the index could not be read) a shipped choice is tried as it is: loading it says what is wrong.
    const { choice, message } = this.shippedModels.length || remembered?.kind !== 'shipped' ? resolveChoice(remembered, this.shippedModels, this.localBundles) : { choice: remembered, message: null };
    if (message) this.modelNotice = message;
    const source = choice ? await this.sourceOf(choice) : null;
    if (source) this.bundleSource = source;
  }

  /** Where a chosen model is loaded from: a shipped bundle's folder, or a stored bundle's files (null: no longer stored). */
  private async sourceOf(choice: ModelChoice): Promise<BundleSource | null> {
    if (choice.kind === 'shipped') return { url: `models/${encodeURIComponent(choice.name)}/` };
    return localBundleFiles(choice.hash);
  }

  private noteSpeed(hash: string, speed: ModelSpeed): void {
    this.speeds = new Map([...this.speeds, [hash, speed]]);
  }

  /** Writes the loaded model with a new head as a bundle, stores it in this browser, trusts it by its hash and loads it. */
  async adapt(adaptation: Adaptation): Promise<LocalBundleInfo> {
    if (!this.engine) throw new Error('The inference engine is not running.');
    const info = await saveLocalBundle(await this.engine.adaptBundle(adaptation));
    this.localBundles = await listLocalBundles();
    await this.useModel({ kind: 'adapted', hash: info.hash });
    return info;
  }

  /**
   * Loads the chosen model (a shipped bundle, or one made here) and remembers the choice for the next start. The
   * results of the model before are stale (its classes may differ): back to the review, where Classify runs the new model.
   */
  async useModel(choice: ModelChoice): Promise<void> {
    if (this.phase === 'running') return;
    const source = await this.sourceOf(choice);
    if (!source) throw new Error(`No model with sha256 ${choice.kind === 'adapted' ? choice.hash.slice(0, 12) : ''} is stored in this browser.`);
    if (choice.kind === 'adapted') this.consent = this.consent.accept({ hash: choice.hash, trust: { status: 'unverified', detail: 'made in this browser' } });
    await this.loadModel(source);
    if (this.bundleSource !== source) return; // not loaded: the error says why, the model before stays
    rememberChoice(browserStore(), choice);
    this.modelNotice = null;
    if (this.phase === 'done') this.review();
    if (this.controlled && choice.kind === 'shipped') await this.cacheForOffline();
  }

  /** The default model again (the one models/index.json names). */
  async useDefaultModel(): Promise<void> {
    const name = defaultModel(this.shippedModels)?.name;
    if (name) await this.useModel({ kind: 'shipped', name });
  }

  /** The user's explicit choice to run the loaded unverified model (this exact bundle only). */
  acceptUnverified(): void {
    if (this.bundle) this.consent = this.consent.accept(this.bundle);
  }

  /** Switches the backend (the engine restarts and reloads the model). */
  async setBackend(choice: BackendChoice): Promise<void> {
    if (this.phase === 'running') return;
    this.backendChoice = choice;
    await this.startEngine();
    await this.loadModel(this.bundleSource);
  }

  /** Takes in a drop or pick: images, metadata CSVs and, when present, a model bundle folder. */
  async addFiles(result: DropResult): Promise<void> {
    const sorted = sortDrop(result.files);
    const csvs = await Promise.all(sorted.metadata.map(async (f) => ({ path: f.path, text: await f.file.text() })));
    const known = new Set(this.images.map((f) => f.path));
    const added = sorted.images.filter((f) => !known.has(f.path));
    this.images = [...this.images, ...added];
    this.csvs = [...this.csvs.filter((c) => !csvs.some((n) => n.path === c.path)), ...csvs];
    this.dropProblems = [...this.dropProblems, ...result.problems, ...sorted.ignored];
    if (sorted.bundle.length) await this.loadModel(sorted.bundle.map((f) => f.file));
    const usable = sorted.images.length + sorted.metadata.length + sorted.bundle.length;
    this.notice = usable
      ? null
      : result.files.length
        ? `Nothing here can be used: ${result.files.length} file(s), none of them a TIFF, PNG or JPEG image, a metadata CSV or a model folder.`
        : 'Nothing was dropped (an empty folder?).';
    if (this.images.length || this.csvs.length) this.phase = this.rows.length ? this.phase : 'review';
    await this.inspect(added.filter((f) => needsProbe(f.path)));
    if (!Object.keys(this.mapping.tokens ?? {}).length) this.mapping = recallMapping(browserStore(), this.channelTokens()) ?? this.mapping;
  }

  /** Reads the channels of images whose names do not say (greyscale, RGB(A), multi-page) before the plan is final; Classify waits. */
  private async inspect(files: DroppedFile[]): Promise<void> {
    if (!files.length) return;
    this.probing = { done: 0, total: files.length };
    try {
      const found = await probeDropped(files, (done, total) => (this.probing = { done, total }));
      this.probes = new Map([...this.probes, ...found]);
    } finally {
      this.probing = null;
    }
  }

  /** The channel names of the drop the user may map (not the image table's columns). */
  private channelTokens(): string[] {
    return this.plan.mapping.filter((m) => m.assignedBy !== 'table').map((m) => m.token);
  }

  /** Downloads the demo plate (files and metadata) from our own origin, takes it in as a drop and runs it. */
  async tryDemo(): Promise<void> {
    if (this.phase === 'running' || this.demo.status === 'downloading') return;
    this.clear();
    this.demo = { status: 'downloading', done: 0, total: 0, bytes: 0 };
    try {
      const { drop } = await fetchDemoPlate('demo/', (p) => (this.demo = { status: 'downloading', ...p }));
      this.demo = { status: 'idle', done: drop.files.length, total: drop.files.length, bytes: 0 };
      await this.addFiles(drop);
    } catch (err) {
      this.demo = { status: 'error', done: 0, total: 0, bytes: 0, message: (err as Error).message };
      return;
    }
    if (this.canRun && this.plan.fields.some((f) => f.input)) await this.run();
  }

  /** Uses the channel name `row.token` as `channel` (null: not used), and remembers it for drops with the same channel names. */
  setChannel(row: MappingRow, channel: ChannelName | null): void {
    const tokens = this.channelTokens();
    this.mapping = remap(this.mapping, row.token, channel);
    rememberMapping(browserStore(), tokens, this.mapping);
  }

  setRgbChannel(channel: ChannelName, rgbIndex: number): void {
    const order = [...this.rgbOrder] as [number, number, number];
    order[CHANNELS.indexOf(channel)] = rgbIndex;
    this.rgbOrder = order;
  }

  /** Classifies every complete field of the plan; incomplete ones are listed with their problems straight away. */
  async run(): Promise<void> {
    const bundle = this.bundle;
    if (!this.engine || !bundle || !this.consent.mayRun(bundle) || this.phase === 'running') return;
    const plan = this.plan;
    this.runMapping = plan.mapping;
    this.inputs = new Map(plan.fields.filter((f) => f.input).map((f) => [f.info.id, f.input!]));
    const rows = plan.fields.map((f) =>
      f.input ? pendingRow(f.info, this.classes) : { ...pendingRow(f.info, this.classes), status: 'failed' as const, message: f.problems.join(' ') },
    );
    const index = new Map(rows.map((r, i) => [r.id, i]));
    this.rows = rows;
    this.selectedId = null;
    this.runError = null;
    this.phase = 'running';
    this.tracker.reset();
    this.progress = NO_PROGRESS;
    const controller = new AbortController();
    this.controller = controller;
    const timings: FieldTimings[] = [];
    let dirty = false;
    const flush = () => {
      if (!dirty) return;
      dirty = false;
      this.rows = [...rows];
    };
    const timer = setInterval(flush, 250);
    const onResult = (result: FieldResult) => {
      const i = index.get(result.id);
      if (i === undefined) return;
      rows[i] = applyResult(rows[i], result);
      if (result.ok) timings.push(result.timings);
      dirty = true;
    };
    try {
      await this.engine.classify([...this.inputs.values()], {
        onResult,
        onProgress: (p) => (this.progress = this.tracker.add({ done: p.done, total: p.total, elapsedMs: p.elapsedMs })),
        signal: controller.signal,
        collect: false,
      });
    } catch (err) {
      if ((err as Error).name !== 'AbortError') this.runError = `The run stopped: ${(err as Error).message}`;
    } finally {
      clearInterval(timer);
      dirty = true;
      flush();
      this.controller = null;
      if (timings.length) this.noteSpeed(bundle.hash, recordRun(browserStore(), bundle.hash, bundle.backend, timings));
      this.phase = 'done';
    }
  }

  cancel(): void {
    this.controller?.abort();
  }

  /** Back to the review of the same files (results kept until the next run). */
  review(): void {
    if (this.phase !== 'running') this.phase = 'review';
  }

  /** Forgets files and results. */
  clear(): void {
    if (this.phase === 'running') return;
    this.images = [];
    this.csvs = [];
    this.dropProblems = [];
    this.rows = [];
    this.mapping = {};
    this.probes = new Map();
    this.runMapping = [];
    this.notice = null;
    this.selectedId = null;
    this.phase = 'empty';
  }

  open(id: string | null): void {
    this.selectedId = id;
  }

  /** A field's planes for the field view, decoded by the engine (the page never decodes images). */
  display(id: string): Promise<FieldDisplay> {
    const input = this.inputs.get(id);
    if (!input) return Promise.reject(new Error('The images of this field are no longer available (drop them again to view).'));
    if (!this.engine) return Promise.reject(new Error('The inference engine is not running.'));
    return this.engine.displayField(input);
  }
}

// The app's one piece of live state: engine and model, dropped files, the run plan, results and progress (Svelte runes).
import type { ChannelMapping } from '../../core/grouping.ts';
import type { ImageChannels } from '../../core/image-probe.ts';
import { CHANNELS, MOA_CLASSES, type ChannelName } from '../../core/labels.ts';
import { createEngine, type BackendChoice, type BackendInfo, type BundleSource, type Engine, type FieldDisplay, type FieldInput, type FieldResult, type LoadedBundle } from '../../engine/index.ts';
import { fetchDemoPlate } from './demo.ts';
import { browserStore, recallMapping, rememberMapping } from './channel-memory.ts';
import { probeDropped, sortDrop, type DropProblem, type DropResult, type DroppedFile } from './drop.ts';
import { needsProbe, planRun, readMetadata, remap, type MappingRow, type MetadataTables, type RunPlan } from './intake.ts';
import type { Adaptation } from '../../core/adapted-bundle.ts';
import { listLocalBundles, localBundleFiles, saveLocalBundle, SELECTED_KEY, type LocalBundleInfo } from './local-bundles.ts';
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
  selected = $derived(this.selectedId === null ? null : (this.rows.find((r) => r.id === this.selectedId) ?? null));

  private engine: Engine | null = null;
  private bundleSource: BundleSource = 'default';
  private inputs = new Map<string, FieldInput>();
  private controller: AbortController | null = null;
  private tracker = new ProgressTracker();

  /** Starts offline support and the engine, then loads the model (from ?bundle= or the default). */
  async start(options: { serviceWorker: boolean; search: string }): Promise<void> {
    const settings = urlSettings(options.search);
    this.backendChoice = settings.backend;
    if (settings.bundle) this.bundleSource = { url: settings.bundle };
    else await this.recallLocalBundle();
    let controlled = false;
    if (options.serviceWorker) {
      const sw = await startServiceWorker();
      if (sw === 'reloading') return;
      controlled = sw === 'controlled';
    }
    if (!controlled) this.offline = { status: 'unavailable', done: 0, total: 0, bytes: 0, message: 'Offline use needs the built app (npm start) in a browser with service workers.' };
    await this.startEngine();
    if (controlled) await this.cacheForOffline();
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
      this.bundleSource = source;
      this.engineStatus = 'ready';
      this.engineError = null;
    } catch (err) {
      this.engineStatus = this.bundle ? 'ready' : 'error';
      this.engineError = `The model could not be loaded: ${(err as Error).message}`;
    }
  }

  /** Lists the bundles made here (each trusted by its recorded hash) and, when one was in use, loads it instead of the default. */
  private async recallLocalBundle(): Promise<void> {
    try {
      this.localBundles = await listLocalBundles();
      this.consent = this.localBundles.reduce((c, b) => c.accept({ hash: b.hash, trust: { status: 'unverified', detail: 'made in this browser' } }), this.consent);
      const selected = localStorage.getItem(SELECTED_KEY);
      const files = selected && this.localBundles.some((b) => b.hash === selected) ? await localBundleFiles(selected) : null;
      if (files) this.bundleSource = files;
    } catch (err) {
      this.engineError = `The models made in this browser could not be read: ${(err as Error).message}`;
    }
  }

  /** Writes the loaded model with a new head as a bundle, stores it in this browser, trusts it by its hash and loads it. */
  async adapt(adaptation: Adaptation): Promise<LocalBundleInfo> {
    if (!this.engine) throw new Error('The inference engine is not running.');
    const info = await saveLocalBundle(await this.engine.adaptBundle(adaptation));
    this.localBundles = await listLocalBundles();
    await this.useLocalBundle(info.hash);
    return info;
  }

  /**
   * Loads a bundle made here (by hash), or the default bundle (null); remembered for the next start. The results
   * of the model before are stale (its classes may differ): back to the review, where Classify runs the new model.
   */
  async useLocalBundle(hash: string | null): Promise<void> {
    const files = hash === null ? null : await localBundleFiles(hash);
    if (hash !== null && !files) throw new Error(`No model with sha256 ${hash.slice(0, 12)} is stored in this browser.`);
    if (hash !== null) this.consent = this.consent.accept({ hash, trust: { status: 'unverified', detail: 'made in this browser' } });
    if (hash === null) localStorage.removeItem(SELECTED_KEY);
    else localStorage.setItem(SELECTED_KEY, hash);
    await this.loadModel(files ?? 'default');
    if (this.phase === 'done') this.review();
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
    if (!this.engine || !this.bundle || !this.consent.mayRun(this.bundle) || this.phase === 'running') return;
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

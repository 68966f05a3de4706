// The treatment map and the clustered heat map: field profiles -> (optionally DMSO-normalised) treatment profiles ->
// PCA coordinates, average-linkage order, NSC nearest neighbours; and both pictures as SVG. The app draws the same
// layout interactively and exports these SVGs; the trainer puts them in its report.
import { averageLinkage, type Dendrogram } from './clustering.ts';
import { classColour } from './moa-colours.ts';
import { pca } from './pca.ts';
import {
  cosineDistances,
  isControl,
  nearestNeighbours,
  neighbourAccuracy,
  normaliseToControls,
  treatmentProfiles,
  type ControlSource,
  type FieldProfile,
  type NearestNeighbour,
  type NeighbourAccuracy,
  type ProfileSummary,
  type TreatmentProfile,
} from './profiles.ts';

export interface ProfileOptions {
  summary: ProfileSummary;
  /** z-score features against the DMSO fields (per plate, pooled when a plate has too few). */
  normalise: boolean;
}

export const DEFAULT_PROFILE_OPTIONS: ProfileOptions = { summary: 'mean', normalise: true };

/** The classifier's call for a treatment. */
export interface TreatmentCall {
  predicted: number;
  confidence: number;
}

/** One treatment on the map. */
export interface MapPoint {
  key: string;
  compound: string;
  concentration: number;
  /** Position in [0, 1] x [0, 1], both axes on one scale (y up is larger). */
  x: number;
  y: number;
  control: boolean;
  predicted?: number;
  confidence?: number;
  label?: number;
}

export interface ProfileAnalysis {
  options: ProfileOptions;
  /** The field profiles as compared (DMSO-normalised when asked). */
  fields: FieldProfile[];
  treatments: TreatmentProfile[];
  controls: ControlSource[];
  points: MapPoint[];
  /** Variance explained by the map's two axes. */
  explained: number[];
  /** Pairwise cosine distances between treatments, n x n. */
  distances: Float64Array;
  clustering: Dendrogram;
  /** NSC nearest neighbour of each non-control treatment, by treatment index. */
  neighbours: Map<number, NearestNeighbour>;
  /** Which labels the neighbours lend: ground truth when any treatment has it, else the classifier's calls. */
  neighbourLabels: 'truth' | 'predicted';
  /** 1-NN accuracies against ground truth (n = 0 without it). */
  nsc: NeighbourAccuracy;
  nscb: NeighbourAccuracy;
}

/** Field profiles -> treatment profiles, their map, clustering and nearest neighbours. `calls` gives the classifier's call per treatment key. */
export function analyseProfiles(fields: readonly FieldProfile[], calls: (key: string) => TreatmentCall | undefined, options: ProfileOptions = DEFAULT_PROFILE_OPTIONS): ProfileAnalysis {
  const normalised = options.normalise ? normaliseToControls(fields) : { fields: [...fields], controls: [] };
  const treatments = treatmentProfiles(normalised.fields, options.summary);
  const projection = pca(treatments.map((t) => t.features));
  const xs = treatments.map((_, i) => projection.coordinates[i * 2]);
  const ys = treatments.map((_, i) => projection.coordinates[i * 2 + 1]);
  const lo = [Math.min(...xs), Math.min(...ys)];
  const span = Math.max(Math.max(...xs) - lo[0], Math.max(...ys) - lo[1]) || 1;
  const offset = [(1 - (Math.max(...xs) - lo[0]) / span) / 2, (1 - (Math.max(...ys) - lo[1]) / span) / 2];
  const points = treatments.map((t, i): MapPoint => {
    const call = calls(t.key);
    return {
      key: t.key,
      compound: t.compound,
      concentration: t.concentration,
      x: offset[0] + (xs[i] - lo[0]) / span,
      y: offset[1] + (ys[i] - lo[1]) / span,
      control: isControl(t.compound),
      predicted: call?.predicted,
      confidence: call?.confidence,
      label: t.label,
    };
  });
  const distances = cosineDistances(treatments.map((t) => t.features));
  const neighbourLabels = treatments.some((t) => t.label !== undefined) ? 'truth' : 'predicted';
  const labels = neighbourLabels === 'truth' ? treatments.map((t) => t.label) : treatments.map((t) => calls(t.key)?.predicted);
  return {
    options,
    fields: normalised.fields,
    treatments,
    controls: normalised.controls,
    points,
    explained: projection.explained,
    distances,
    clustering: averageLinkage(distances, treatments.length),
    neighbours: new Map(nearestNeighbours(treatments, 'nsc', labels).map((nn) => [nn.treatment, nn])),
    neighbourLabels,
    nsc: neighbourAccuracy(treatments, 'nsc'),
    nscb: neighbourAccuracy(treatments, 'nscb'),
  };
}

export type MapColouring = 'predicted' | 'truth';

/** A point's class under the colouring (undefined: no call or no ground truth). */
export function pointClass(point: MapPoint, colourBy: MapColouring): number | undefined {
  return colourBy === 'predicted' ? point.predicted : point.label;
}

/** Marker radius in px: 3 at no confidence, 9 at certainty; 5 when the classifier made no call. */
export function pointRadius(point: MapPoint): number {
  return point.confidence === undefined ? 5 : 3 + 6 * point.confidence;
}

const esc = (s: string) => s.replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]!);
const NO_CLASS = '#FFFFFF';

export interface MapSvgOptions {
  classes: readonly string[];
  colourBy: MapColouring;
  title: string;
  size?: number;
}

/** Where the map's plot area sits in its picture: a square of `size` px after `margin` px, then the legend. */
export const MAP_MARGIN = 30;

/** The map as a standalone SVG: points coloured by class, sized by confidence, DMSO as black-edged squares, a legend. */
export function mapSvg(analysis: Pick<ProfileAnalysis, 'points' | 'explained'>, o: MapSvgOptions): string {
  const size = o.size ?? 480;
  const legendX = MAP_MARGIN * 2 + size;
  const used = [...new Set(analysis.points.map((p) => pointClass(p, o.colourBy)).filter((c): c is number => c !== undefined))].sort((a, b) => a - b);
  const height = Math.max(size + MAP_MARGIN * 2 + 20, 60 + 16 * (used.length + 1));
  const parts = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${legendX + 230}" height="${height}" font-family="sans-serif" font-size="11">`,
    `<rect width="100%" height="100%" fill="white"/>`,
    `<text x="${MAP_MARGIN}" y="18" font-size="14" font-weight="bold">${esc(o.title)}</text>`,
    `<rect x="${MAP_MARGIN}" y="${MAP_MARGIN}" width="${size}" height="${size}" fill="none" stroke="#ccc"/>`,
    `<text x="${MAP_MARGIN + size / 2}" y="${MAP_MARGIN + size + 16}" text-anchor="middle">PC1 (${(100 * (analysis.explained[0] ?? 0)).toFixed(1)}% of variance)</text>`,
    `<text x="${MAP_MARGIN - 8}" y="${MAP_MARGIN + size / 2}" text-anchor="middle" transform="rotate(-90 ${MAP_MARGIN - 8} ${MAP_MARGIN + size / 2})">PC2 (${(100 * (analysis.explained[1] ?? 0)).toFixed(1)}%)</text>`,
  ];
  for (const p of analysis.points) {
    const cls = pointClass(p, o.colourBy);
    const fill = cls === undefined ? NO_CLASS : classColour(cls, o.classes);
    const cx = (MAP_MARGIN + p.x * size).toFixed(1);
    const cy = (MAP_MARGIN + (1 - p.y) * size).toFixed(1);
    const r = pointRadius(p);
    const title = `<title>${esc(`${p.compound} ${p.concentration} µM: ${p.predicted === undefined ? 'no call' : (o.classes[p.predicted] ?? p.predicted)}`)}</title>`;
    parts.push(
      p.control
        ? `<rect x="${(Number(cx) - r).toFixed(1)}" y="${(Number(cy) - r).toFixed(1)}" width="${2 * r}" height="${2 * r}" fill="${fill}" stroke="black" stroke-width="1.5">${title}</rect>`
        : `<circle cx="${cx}" cy="${cy}" r="${r.toFixed(1)}" fill="${fill}" fill-opacity="0.85" stroke="#333" stroke-width="0.5">${title}</circle>`,
    );
  }
  parts.push(`<text x="${legendX}" y="${MAP_MARGIN + 4}" font-weight="bold">${o.colourBy === 'predicted' ? 'predicted MoA' : 'true MoA'}</text>`);
  used.forEach((c, i) => {
    const y = MAP_MARGIN + 16 * (i + 1);
    parts.push(`<circle cx="${legendX + 5}" cy="${y}" r="5" fill="${classColour(c, o.classes)}"/><text x="${legendX + 14}" y="${y + 4}">${esc(o.classes[c] ?? String(c))}</text>`);
  });
  const y = MAP_MARGIN + 16 * (used.length + 1);
  parts.push(`<rect x="${legendX}" y="${y - 5}" width="10" height="10" fill="white" stroke="black" stroke-width="1.5"/><text x="${legendX + 14}" y="${y + 4}">DMSO (square); size: confidence</text>`);
  parts.push('</svg>');
  return parts.join('');
}

/** Heat-map colour of a cosine distance in [0, 2]: dark blue (alike) through white (unrelated, 1) to dark red (opposite). */
export function distanceColour(distance: number): string {
  const t = Math.max(-1, Math.min(1, 1 - distance));
  const mix = (a: number, b: number, f: number) => Math.round(a + (b - a) * f);
  const [r, g, b] = t >= 0 ? [mix(255, 33, t), mix(255, 102, t), mix(255, 172, t)] : [mix(255, 178, -t), mix(255, 24, -t), mix(255, 43, -t)];
  return `#${[r, g, b].map((v) => v.toString(16).padStart(2, '0')).join('')}`;
}

/** Row and column labels of a treatment in the heat map. */
export function treatmentLabel(t: Pick<TreatmentProfile, 'compound' | 'concentration'>): string {
  return `${t.compound} ${t.concentration}`;
}

/** The clustered heat map as SVG: treatments in dendrogram order on both axes, a class bar (ground truth, else the call) on the left. */
export function heatmapSvg(analysis: Pick<ProfileAnalysis, 'treatments' | 'distances' | 'clustering' | 'points'>, classes: readonly string[], title: string): string {
  const n = analysis.treatments.length;
  const cell = Math.max(2, Math.min(14, Math.floor(560 / Math.max(1, n))));
  const labels = cell >= 8;
  const left = labels ? 180 : 30;
  const top = 40;
  const order = analysis.clustering.order;
  const parts = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${left + n * cell + 20}" height="${top + n * cell + 20}" font-family="sans-serif" font-size="${Math.min(11, cell)}">`,
    `<rect width="100%" height="100%" fill="white"/>`,
    `<text x="10" y="18" font-size="14" font-weight="bold">${esc(title)}</text>`,
  ];
  order.forEach((i, row) => {
    const t = analysis.treatments[i];
    const p = analysis.points[i];
    const cls = t.label ?? p?.predicted;
    const y = top + row * cell;
    if (labels) parts.push(`<text x="${left - 14}" y="${y + cell - 2}" text-anchor="end">${esc(treatmentLabel(t))}</text>`);
    parts.push(`<rect x="${left - 10}" y="${y}" width="8" height="${cell}" fill="${cls === undefined ? NO_CLASS : classColour(cls, classes)}"/>`);
    order.forEach((k, col) => {
      parts.push(`<rect x="${left + col * cell}" y="${y}" width="${cell}" height="${cell}" fill="${distanceColour(analysis.distances[i * n + k])}"/>`);
    });
  });
  parts.push('</svg>');
  return parts.join('');
}

// A self-contained HTML report of an evaluation: accuracy, confusion matrix and training curves as inline SVG.
import type { Scores } from '../../../src/core/aggregate.ts';
import { formatPercent } from '../util/format.ts';

const esc = (s: string) => s.replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]!);

/** Confusion matrix (rows: true class, columns: predicted), each row shaded by its share of the row. */
export function confusionSvg(scores: Scores, classes: readonly string[], title: string): string {
  const cell = 30;
  const left = 190;
  const top = 200;
  const n = classes.length;
  const w = left + n * cell + 20;
  const h = top + n * cell + 40;
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${w}" height="${h}" font-family="sans-serif" font-size="11">`,
    `<rect width="100%" height="100%" fill="white"/>`,
    `<text x="${left}" y="16" font-size="14" font-weight="bold">${esc(title)}</text>`,
    `<text x="${left}" y="34">rows: true class, columns: predicted; accuracy ${formatPercent(scores.accuracy)} (${scores.correct}/${scores.n})</text>`,
  ];
  classes.forEach((c, i) => {
    parts.push(`<text x="${left - 6}" y="${top + i * cell + cell / 2 + 4}" text-anchor="end">${esc(c)}</text>`);
    const x = left + i * cell + cell / 2;
    parts.push(`<text x="${x}" y="${top - 6}" transform="rotate(-60 ${x} ${top - 6})">${esc(c)}</text>`);
  });
  scores.confusion.forEach((row, i) => {
    const total = row.reduce((a, b) => a + b, 0);
    row.forEach((count, j) => {
      const share = total ? count / total : 0;
      const fill = i === j ? `rgba(30,120,60,${0.1 + 0.9 * share})` : `rgba(200,50,40,${share ? 0.15 + 0.85 * share : 0})`;
      const x = left + j * cell;
      const y = top + i * cell;
      parts.push(`<rect x="${x}" y="${y}" width="${cell}" height="${cell}" fill="${fill}" stroke="#ccc"/>`);
      if (count) parts.push(`<text x="${x + cell / 2}" y="${y + cell / 2 + 4}" text-anchor="middle" fill="${share > 0.6 ? 'white' : 'black'}">${count}</text>`);
    });
  });
  parts.push('</svg>');
  return parts.join('');
}

/** Line chart of numeric series against a shared x (step). */
export function curvesSvg(points: { step: number; [series: string]: number }[], series: string[], title: string): string {
  const w = 640;
  const h = 300;
  const pad = { l: 50, r: 120, t: 30, b: 40 };
  const xs = points.map((p) => p.step);
  const xmin = Math.min(...xs);
  const xmax = Math.max(...xs, xmin + 1);
  const values = points.flatMap((p) => series.map((s) => p[s]).filter((v) => Number.isFinite(v)));
  const ymin = Math.min(0, ...values);
  const ymax = Math.max(...values, ymin + 1e-9);
  const X = (x: number) => pad.l + ((x - xmin) / (xmax - xmin)) * (w - pad.l - pad.r);
  const Y = (y: number) => h - pad.b - ((y - ymin) / (ymax - ymin)) * (h - pad.t - pad.b);
  const colours = ['#1f77b4', '#d62728', '#2ca02c', '#9467bd'];
  const parts = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${w}" height="${h}" font-family="sans-serif" font-size="11">`,
    `<rect width="100%" height="100%" fill="white"/>`,
    `<text x="${pad.l}" y="18" font-size="14" font-weight="bold">${esc(title)}</text>`,
    `<line x1="${pad.l}" y1="${h - pad.b}" x2="${w - pad.r}" y2="${h - pad.b}" stroke="black"/>`,
    `<line x1="${pad.l}" y1="${pad.t}" x2="${pad.l}" y2="${h - pad.b}" stroke="black"/>`,
    `<text x="${(w - pad.r + pad.l) / 2}" y="${h - 8}" text-anchor="middle">step</text>`,
    `<text x="${pad.l - 6}" y="${Y(ymax) + 4}" text-anchor="end">${ymax.toPrecision(3)}</text>`,
    `<text x="${pad.l - 6}" y="${Y(ymin) + 4}" text-anchor="end">${ymin.toPrecision(3)}</text>`,
    `<text x="${X(xmax)}" y="${h - pad.b + 14}" text-anchor="end">${xmax}</text>`,
  ];
  series.forEach((s, k) => {
    const pts = points.filter((p) => Number.isFinite(p[s])).map((p) => `${X(p.step).toFixed(1)},${Y(p[s]).toFixed(1)}`);
    if (pts.length) parts.push(`<polyline fill="none" stroke="${colours[k % colours.length]}" stroke-width="1.5" points="${pts.join(' ')}"/>`);
    parts.push(`<text x="${w - pad.r + 8}" y="${pad.t + 14 * (k + 1)}" fill="${colours[k % colours.length]}">${esc(s)}</text>`);
  });
  parts.push('</svg>');
  return parts.join('');
}

export interface ReportInput {
  title: string;
  classes: readonly string[];
  fieldScores: Scores;
  treatmentScores: Scores;
  history: { step: number; [series: string]: number }[];
  facts: Record<string, string | number>;
  /** Further pictures (SVG documents), each under its heading: the treatment map. */
  pictures?: { title: string; svg: string }[];
}

export function reportHtml(r: ReportInput): string {
  const facts = Object.entries(r.facts)
    .map(([k, v]) => `<tr><th>${esc(k)}</th><td>${esc(String(v))}</td></tr>`)
    .join('');
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>${esc(r.title)}</title>
<style>body{font-family:sans-serif;margin:2rem;max-width:1100px}th{text-align:left;padding-right:1rem}</style></head><body>
<h1>${esc(r.title)}</h1><table>${facts}</table>
<h2>Training curves</h2>${curvesSvg(r.history, ['loss', 'lr_x100'], 'loss and learning rate (x100)')}
<h2>Per treatment</h2>${confusionSvg(r.treatmentScores, r.classes, 'Per-treatment confusion')}
<h2>Per field</h2>${confusionSvg(r.fieldScores, r.classes, 'Per-field confusion')}
${(r.pictures ?? []).map((p) => `<h2>${esc(p.title)}</h2>${p.svg}`).join('\n')}
</body></html>\n`;
}

// One fixed colour per MoA class (13, distinguishable, colour-blind aware), plus readable text on each; the app and the trainer's pictures share it.
import { MOA_CLASSES } from './labels.ts';

/**
 * Colours in MOA_CLASSES order. Built from Paul Tol's qualitative schemes ("muted", "bright", "vibrant"),
 * designed to stay distinct under common colour-vision deficiencies; similar biology is kept apart
 * (the two microtubule classes, the two DNA classes). DMSO, the control, is a neutral grey.
 */
export const MOA_COLOURS: readonly string[] = [
  '#CC3311', // Actin disruptors: vibrant red
  '#AA4499', // Aurora kinase inhibitors: purple
  '#DDCC77', // Cholesterol-lowering: sand
  '#332288', // DNA damage: indigo
  '#88CCEE', // DNA replication: light cyan
  '#EE7733', // Eg5 inhibitors: orange
  '#999933', // Epithelial: olive
  '#882255', // Kinase inhibitors: wine
  '#117733', // Microtubule destabilizers: green
  '#44AA99', // Microtubule stabilizers: teal
  '#4477AA', // Protein degradation: blue
  '#EE6677', // Protein synthesis: rose
  '#BBBBBB', // DMSO: grey (control)
];

/** Colour for errors, missing values and wells without a prediction. */
export const NO_CLASS_COLOUR = '#FFFFFF';

/** Colour of a class by index in the model's class list, resolved through its name when known. */
export function classColour(index: number, classes: readonly string[] = MOA_CLASSES): string {
  const name = classes[index];
  const canonical = (MOA_CLASSES as readonly string[]).indexOf(name);
  if (canonical >= 0) return MOA_COLOURS[canonical];
  // A bundle with other classes: reuse the palette in order.
  return index >= 0 ? MOA_COLOURS[index % MOA_COLOURS.length] : NO_CLASS_COLOUR;
}

/** Relative luminance (WCAG 2) of a #RRGGBB colour. */
export function luminance(hex: string): number {
  const m = /^#?([0-9a-f]{2})([0-9a-f]{2})([0-9a-f]{2})$/i.exec(hex);
  if (!m) throw new Error(`Not a #RRGGBB colour: ${hex}`);
  const [r, g, b] = [m[1], m[2], m[3]].map((h) => {
    const c = parseInt(h, 16) / 255;
    return c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
  });
  return 0.2126 * r + 0.7152 * g + 0.0722 * b;
}

/** WCAG contrast ratio of two colours. */
export function contrastRatio(a: string, b: string): number {
  const [hi, lo] = [luminance(a), luminance(b)].sort((x, y) => y - x);
  return (hi + 0.05) / (lo + 0.05);
}

/** Black or white, whichever reads better on `background`. */
export function textOn(background: string): '#000000' | '#FFFFFF' {
  return contrastRatio(background, '#000000') >= contrastRatio(background, '#FFFFFF') ? '#000000' : '#FFFFFF';
}

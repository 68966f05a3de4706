// How a field is named for the user: by plate, well and site where its file names carry them, and
// always by its files otherwise (never "plate – –" or "site ?").
import type { FieldInfo } from './results.ts';

/** The field's own name: its file name without the channel part, or its first file's name. */
export function fieldName(info: Pick<FieldInfo, 'name' | 'files' | 'id'>): string {
  return info.name || (info.files[0]?.split('/').pop() ?? '') || info.id;
}

/** Where the field sits in its well, when the names say it ("site 3"); its name otherwise. */
export function siteLabel(info: Pick<FieldInfo, 'site' | 'name' | 'files' | 'id'>): string {
  return info.site !== null ? `site ${info.site}` : fieldName(info);
}

/** A title for the field view and lists: "Week1_22123 · B02 · site 1", or "flies · fly_tissue.tif" when the names carry no well. */
export function fieldTitle(info: Pick<FieldInfo, 'plate' | 'well' | 'site' | 'name' | 'files' | 'id'>): string {
  const parts = info.well ? [info.plate, info.well, info.site !== null ? `site ${info.site}` : fieldName(info)] : [info.plate, fieldName(info)];
  return parts.filter(Boolean).join(' · ');
}

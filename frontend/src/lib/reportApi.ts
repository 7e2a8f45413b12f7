// The post-event report's files (docs/PROTOCOL.md "Report"): plain links, so the session
// cookie goes along and the browser opens or saves them itself.

const ev = (id: string) => `/api/events/${encodeURIComponent(id)}`;

export type ReportFormat = 'html' | 'md' | 'json' | 'csv';

export interface ReportLink {
  id: string;
  label: string;
  href: string;
  /** a new tab (the HTML report); the others are saved as files */
  newTab: boolean;
}

/** The report in `format`; `inline` shows it in the browser instead of saving it. */
export function reportUrl(eventId: string, format: ReportFormat, opts: { inline?: boolean; series?: string } = {}): string {
  const q = new URLSearchParams({ format });
  if (opts.series) q.set('series', opts.series);
  if (opts.inline) q.set('inline', 'true');
  return `${ev(eventId)}/report?${q}`;
}

/** What the Ops view's Report menu offers, in order. */
export function reportLinks(eventId: string): ReportLink[] {
  return [
    { id: 'report-html', label: 'Open HTML report', href: reportUrl(eventId, 'html', { inline: true }), newTab: true },
    { id: 'report-md', label: 'Download Markdown', href: reportUrl(eventId, 'md'), newTab: false },
    { id: 'report-json', label: 'Download JSON', href: reportUrl(eventId, 'json'), newTab: false },
    {
      id: 'report-csv',
      label: 'Download CSV (audience series)',
      href: reportUrl(eventId, 'csv', { series: 'audience' }),
      newTab: false,
    },
  ];
}

import { describe, expect, it } from 'vitest';
import { reportLinks, reportUrl } from './reportApi';

describe('report links', () => {
  it('name the format, and open the HTML in the browser rather than save it', () => {
    expect(reportUrl('ev1', 'md')).toBe('/api/events/ev1/report?format=md');
    expect(reportUrl('ev 1', 'html', { inline: true })).toBe('/api/events/ev%201/report?format=html&inline=true');
    expect(reportUrl('ev1', 'csv', { series: 'audience' })).toBe('/api/events/ev1/report?format=csv&series=audience');
  });

  it('offer the HTML in a new tab and the rest as downloads', () => {
    const links = reportLinks('ev1');
    expect(links.map((l) => [l.label, l.newTab])).toEqual([
      ['Open HTML report', true],
      ['Download Markdown', false],
      ['Download JSON', false],
      ['Download CSV (audience series)', false],
    ]);
    expect(links.map((l) => new URL(l.href, 'http://x').searchParams.get('format'))).toEqual(['html', 'md', 'json', 'csv']);
  });
});

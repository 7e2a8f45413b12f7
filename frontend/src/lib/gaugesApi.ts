// REST call of the gauges' history (app/metrics/router.py): any member of the event.

import { request } from './api';
import type { GaugeHistory } from './gauges';

export const gaugesApi = {
  /** the last `minutes` complete minutes of every gauge, per metric and dimension */
  history: (eventId: string, minutes = 30) =>
    request<GaugeHistory>('GET', `/api/events/${encodeURIComponent(eventId)}/gauges/history?minutes=${minutes}`),
};

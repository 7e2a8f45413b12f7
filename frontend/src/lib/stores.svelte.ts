// App-wide reactive state shared between the header and the pages.

import type { LiveStatus } from './live';
import type { User } from './types';

export const session = $state<{ user: User | null; checked: boolean }>({ user: null, checked: false });

/** The open event's connection, shown in the header (status null: no event open). */
export const conn = $state<{ status: LiveStatus | null; replayed: number; title: string }>({
  status: null,
  replayed: 0,
  title: '',
});

/**
 * The open event's moderation controls in the header: the page says whether the user may
 * moderate; the header's "Rules" button opens the editor the page shows.
 */
export const eventUi = $state<{ canModerate: boolean; rulesOpen: boolean }>({ canModerate: false, rulesOpen: false });

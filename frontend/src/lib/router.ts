// Hash routing: #/login, #/events, #/events/<id>.

export type Route =
  | { name: 'login' }
  | { name: 'events' }
  | { name: 'event'; id: string }
  | { name: 'notfound'; hash: string };

export function parseRoute(hash: string): Route {
  const path = hash.replace(/^#/, '').replace(/\/+$/, '');
  if (path === '' || path === '/events') return { name: 'events' };
  if (path === '/login') return { name: 'login' };
  const m = /^\/events\/([^/?#]+)$/.exec(path);
  if (m) return { name: 'event', id: decodeURIComponent(m[1]) };
  return { name: 'notfound', hash };
}

export function navigate(hash: string): void {
  if (location.hash !== hash) location.hash = hash;
}

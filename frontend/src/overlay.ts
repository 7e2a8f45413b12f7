import { mount } from 'svelte';
import OverlayPage from './components/overlay/OverlayPage.svelte';

// Overlay pages for OBS browser sources: /overlay/{kind}?token=..., read-only, no login.
const target = document.getElementById('app');
if (!target) throw new Error('#app element missing');
const kind = location.pathname.split('/').filter(Boolean)[1] ?? '';
const token = new URLSearchParams(location.search).get('token') ?? '';

export default mount(OverlayPage, { target, props: { kind, token } });

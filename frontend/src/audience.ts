import { mount } from 'svelte';
import AudiencePage from './components/audience/AudiencePage.svelte';

// The audience page: no login, served at /a/{code}.
const target = document.getElementById('app');
if (!target) throw new Error('#app element missing');
const code = decodeURIComponent(location.pathname.split('/').filter(Boolean)[1] ?? '');

export default mount(AudiencePage, { target, props: { code } });

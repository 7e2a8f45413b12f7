/// <reference types="vitest/config" />
import { defineConfig } from 'vite';
import { svelte } from '@sveltejs/vite-plugin-svelte';

const BACKEND = 'http://127.0.0.1:8000';

// Built into dist/ and served by the FastAPI app at "/": assets load from /assets/...
export default defineConfig({
  base: '/',
  plugins: [svelte()],
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    assetsDir: 'assets',
    target: 'es2022',
    // Three pages: the console (login), the audience page and the OBS overlays (no login).
    rollupOptions: {
      input: {
        console: 'index.html',
        audience: 'audience.html',
        overlay: 'overlay.html',
      },
    },
  },
  server: {
    port: 5173,
    // The backend checks the WebSocket Origin; present the proxied requests as same-origin
    // so `npm run dev` works without adding the dev server to CONTROLROOM_ALLOWED_ORIGINS.
    proxy: {
      '/api': {
        target: BACKEND,
        headers: { origin: BACKEND },
      },
      '/ws': {
        target: BACKEND,
        ws: true,
        headers: { origin: BACKEND },
      },
    },
  },
  test: {
    include: ['src/**/*.test.ts'],
    environment: 'node',
  },
});

// The dashboard's build. In development `npm run dev -w @pigeon/dashboard` serves it on :5173 and
// proxies /graphql to the API (PIGEON_API_URL, default http://localhost:4000), so the session
// cookie is same-origin exactly as in production, where the API process serves dashboard/dist.
import react from '@vitejs/plugin-react';
import { defineConfig } from 'vite';

const apiUrl = process.env.PIGEON_API_URL ?? 'http://localhost:4000';

export default defineConfig({
  base: '/',
  plugins: [react()],
  server: {
    port: Number(process.env.DASHBOARD_PORT ?? 5173),
    strictPort: true,
    proxy: {
      '/graphql': { target: apiUrl, changeOrigin: false },
    },
  },
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    sourcemap: true,
    // Libraries change less often than the app: a separate chunk stays cached across releases.
    rolldownOptions: { output: { codeSplitting: { groups: [{ name: 'vendor', test: /node_modules/ }] } } },
  },
});

import 'uplot/dist/uPlot.min.css';
import './app.css';
import { mount } from 'svelte';
import App from './App.svelte';
import { ApiClient } from './lib/api/client.ts';
import { loadApiBaseUrl } from './lib/api/config.ts';

const target = document.getElementById('app');
if (!target) throw new Error('index.html has no #app element');

let app: ReturnType<typeof mount> | undefined;
try {
  // config.json (written by `serverless deploy`) says where the API is; without it, this origin.
  const baseUrl = await loadApiBaseUrl();
  app = mount(App, { target, props: { api: new ApiClient({ baseUrl }) } });
} catch (error) {
  target.textContent = `The dashboard cannot start: ${error instanceof Error ? error.message : String(error)}`;
  throw error;
}

export default app;
